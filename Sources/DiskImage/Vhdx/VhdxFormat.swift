import DiskImportCore

extension ImageFormat {
    /// Hyper-V's VHDX (qemu's "vhdx" driver, block/vhdx.c).
    public static let vhdx = ImageFormat(VhdxFormat.self)
}

/// VHDX's readers: by random access (a local file, whose blocks the target shares or copies in the kernel, or ranged
/// reads), and front to back (`VhdxStreamReader`), which needs no scratch for the layout qemu-img writes.
public enum VhdxFormat: DiskImageFormat {
    public static let name = "vhdx"
    public static var capabilities: FormatCapabilities { [.localFile, .rangedReads] }

    public static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader {
        try VhdxReader(source: source)
    }

    public static func streamingReader(_ stream: PeekableStream, length: UInt64?, options: ReaderOptions) throws -> DiskImageReader {
        try VhdxStreamReader(stream: stream, length: length, name: options.name, scratchDirectory: options.scratchDirectory)
    }

    /// Parses the structures as a conversion would (qemu-img info opens the image the same way, and fails where a
    /// conversion would).
    public static func describe(_ stream: PeekableStream, length: UInt64?, name: String) throws -> ImageDescription {
        description(try VhdxStreamReader(stream: stream, length: length, name: name, scratchDirectory: nil).layout)
    }

    public static func describe(_ source: RandomAccessSource, name: String) throws -> ImageDescription {
        description(try VhdxLayout.parse(VhdxSourceView(source: source)))
    }

    static func description(_ layout: VhdxLayout) -> ImageDescription {
        ImageDescription(virtualSize: layout.virtualSize, details: VhdxDetails(metadata: layout.metadata))
    }
}

/// What `qemu-img info` shows of a VHDX: its block size as the cluster size (vhdx_get_info); qemu 7.2 has no
/// format-specific section for vhdx.
public struct VhdxDetails: ImageDetails {
    public var blockSize: UInt32
    public var logicalSectorSize: UInt32

    init(metadata: VhdxMetadata) {
        blockSize = metadata.blockSize
        logicalSectorSize = metadata.logicalSectorSize
    }

    public var infoJSONMembers: [(String, JSON)] { [("cluster-size", .number(Double(blockSize)))] }
    public var infoHumanLines: [String] { ["cluster_size: \(blockSize)"] }
}
