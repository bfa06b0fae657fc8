import Codecs
import DiskImportCore

extension ImageFormat {
    /// A raw disk: the guest bytes as they are. Anything the sniffer does not recognise is raw, as for qemu-img.
    public static let raw = ImageFormat(RawFormat.self)
}

/// Raw's readers: a local file by its extents (holes skipped, data shared or copied in the kernel); inside .xz, the
/// blocks decoded in parallel straight to their offsets; anything else front to back.
public enum RawFormat: DiskImageFormat {
    public static let name = "raw"
    /// No ranged reader: a raw image over HTTP is every byte either way, and one stream is the fastest way to them.
    public static var capabilities: FormatCapabilities { [.localFile, .xzBlocks] }

    public static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader {
        guard let file = source as? LocalFile else {
            throw DiskImportError.unsupported("\(options.name): raw images are read by extents only from local files")
        }
        return RawFileReader(file: file)
    }

    public static func streamingReader(_ stream: PeekableStream, length: UInt64?, options: ReaderOptions) throws -> DiskImageReader {
        guard length == nil else { return RawStreamReader(stream: stream, virtualSize: length) }
        return RawStreamReader(stream: stream, limit: options.decodedLimit, reason: options.decodedLimitReason)
    }

    public static func xzBlockReader(_ xz: PeekableStream, decodedHead: [UInt8], options: ReaderOptions) throws -> DiskImageReader? {
        XzParallelRawReader(stream: xz, limit: options.decodedLimit, reason: options.decodedLimitReason)
    }

    /// The layer's length: known for a file, a sized body or a tar entry; unknown under compression.
    public static func describe(_ stream: PeekableStream, length: UInt64?, name: String) throws -> ImageDescription {
        ImageDescription(virtualSize: length)
    }
}
