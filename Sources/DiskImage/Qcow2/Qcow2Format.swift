import Codecs
import DiskImportCore

extension ImageFormat {
    /// qcow2 versions 2 and 3.
    public static let qcow2 = ImageFormat(Qcow2Format.self)
}

/// qcow2's readers: by random access (a local file with its backing chain, or ranged reads), front to back
/// (`Qcow2StreamReader`), and inside .xz with its blocks decoded in parallel (`XzParallelQcow2Reader`).
public enum Qcow2Format: DiskImageFormat {
    public static let name = "qcow2"
    public static var capabilities: FormatCapabilities { [.localFile, .rangedReads, .xzBlocks] }

    /// A local file follows its backing chain (as `options.followBacking` says); any other source refuses an image
    /// with a backing file.
    public static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader {
        if let file = source as? LocalFile { return try Qcow2Reader(file: file, followBacking: options.followBacking) }
        return try Qcow2Reader(source: source)
    }

    public static func streamingReader(_ stream: PeekableStream, length: UInt64?, options: ReaderOptions) throws -> DiskImageReader {
        try Qcow2StreamReader(stream: stream, name: options.name, scratchDirectory: options.scratchDirectory, memory: options.memory)
    }

    /// Nil when the first cluster (the header) does not decode from the bytes peeked: the image is then read
    /// through XzStream.
    public static func xzBlockReader(_ xz: PeekableStream, decodedHead: [UInt8], options: ReaderOptions) throws -> DiskImageReader? {
        guard let header = try header(xz: xz, sniffed: decodedHead, name: options.name) else { return nil }
        return try XzParallelQcow2Reader(stream: xz, header: header, name: options.name, scratchDirectory: options.scratchDirectory,
                                         memory: options.memory)
    }

    /// The header only; a backing file is described, not opened (as qemu-img info does).
    /// From a stream, the snapshot table and bitmap directory are not read (they lie past the head info reads).
    public static func describe(_ stream: PeekableStream, length: UInt64?, name: String) throws -> ImageDescription {
        let header = try Qcow2Header.read(from: stream, name: name)
        return ImageDescription(virtualSize: header.guestSize, details: Qcow2Details(header: header))
    }

    public static func describe(_ source: RandomAccessSource, name: String) throws -> ImageDescription {
        let header = try Qcow2Header.read(from: source)
        return ImageDescription(virtualSize: header.guestSize, details: Qcow2Details(
            header: header, snapshots: try Qcow2SnapshotTable.read(from: source, header: header),
            bitmaps: try Qcow2BitmapDirectory.read(from: source, header: header)))
    }

    /// The header of the qcow2 image inside the .xz data next in `xz`, from its decoded first cluster (`sniffed`, its
    /// decoded head, when that is long enough); nil when that cluster cannot be decoded from the bytes peeked.
    static func header(xz: PeekableStream, sniffed: [UInt8], name: String) throws -> Qcow2Header? {
        let want = sniffed.withUnsafeBytes { Qcow2Header.headLength(from: $0) }
        guard let head = want <= sniffed.count ? Array(sniffed[..<want]) : try XzHead.decoded(peeking: xz, count: want) else { return nil }
        return try head.withUnsafeBytes { try Qcow2Header(head: $0, fileLength: nil, name: name) }
    }
}

/// What `info` says of a qcow2: its header, and its snapshot table and persistent bitmaps when the image was read
/// at any offset (nil from a stream). Rendered by `ImageInfo`, which resolves the backing file against the source's
/// location.
public struct Qcow2Details: ImageDetails {
    public var header: Qcow2Header
    public var snapshots: [Qcow2Snapshot]?
    public var bitmaps: [Qcow2Bitmap]?

    public init(header: Qcow2Header, snapshots: [Qcow2Snapshot]? = nil, bitmaps: [Qcow2Bitmap]? = nil) {
        self.header = header
        self.snapshots = snapshots
        self.bitmaps = bitmaps
    }
}
