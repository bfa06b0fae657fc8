import DiskImportCore

extension ImageFormat {
    /// VirtualBox disk images, static and dynamic (version 1.1, 1 MiB blocks: what qemu reads).
    public static let vdi = ImageFormat(VdiFormat.self)
}

/// vdi's readers: with random access (a local file, its holes skipped; ranged HTTP), and front to back (inside a
/// wrapper, over HTTP), where the block map before the data needs no scratch. qemu's block/vdi.c is the reference:
/// a mapped block is data at `offset_data + entry * block_size`, an unallocated or discarded one reads as zeros.
public enum VdiFormat: DiskImageFormat {
    public static let name = "vdi"
    public static var capabilities: FormatCapabilities { [.localFile, .rangedReads] }

    public static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader {
        let header = try VdiHeader(bytes: try source.head(VdiHeader.length), name: options.name)
        let (offset, count) = try header.blockMapRange(name: options.name)
        let table = try header.blockMap(bytes: try source.bytes(at: offset, count: count, what: "the vdi block map"),
                                        name: options.name, fileLength: source.length)
        return MappedImageReader(layers: [BlockTableLayer(source: source, table: table)])
    }

    public static func streamingReader(_ stream: PeekableStream, length: UInt64?, options: ReaderOptions) throws -> DiskImageReader {
        let header = try VdiHeader(bytes: try stream.peek(VdiHeader.length), name: options.name)
        let (offset, count) = try header.blockMapRange(name: options.name)
        return BlockTableStreamReader(stream: stream, length: length, virtualSize: header.diskSize, format: name, options: options) { ordered in
            let bytes = try ordered.read(at: offset, count: count, what: "block map")
            return try header.blockMap(bytes: bytes, name: options.name, fileLength: length)
        }
    }

    public static func describe(_ stream: PeekableStream, length: UInt64?, name: String) throws -> ImageDescription {
        let header = try VdiHeader(bytes: try stream.peek(VdiHeader.length), name: name)
        return ImageDescription(virtualSize: header.diskSize, details: ClusterSizeDetails(clusterSize: UInt64(header.blockSize)))
    }
}
