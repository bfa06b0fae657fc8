import DiskImportCore

extension ImageFormat {
    /// Virtual PC / Hyper-V vhd images with the footer copied at their start: dynamic and differencing. A fixed vhd
    /// has its footer only at the end, and qemu-img probes it as raw (block/vpc.c vpc_probe looks at the head), so
    /// it is converted as raw, footer included, exactly as `qemu-img convert -O raw` does; `-f vpc` reads it as vpc
    /// (`VpcFixedDisk`), as `qemu-img convert -f vpc` does.
    public static let vpc = ImageFormat(VpcFormat.self)
}

/// vhd's readers: with random access (a local file with its parents, ranged HTTP) and front to back (inside a
/// wrapper, over HTTP), where the BAT before the blocks needs no scratch. qemu's block/vpc.c is the reference: the
/// size rule of `VpcFooter.sectors`, a block's data after its sector bitmap, an unallocated block read as zeros.
public enum VpcFormat: DiskImageFormat {
    public static let name = "vpc"
    public static var capabilities: FormatCapabilities { [.localFile, .rangedReads] }

    /// A differencing disk on a local file reads through its parents (`VpcChain`), as options.followBacking says.
    public static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader {
        MappedImageReader(layers: try VpcChain.layers(of: source, options: options))
    }

    public static func streamingReader(_ stream: PeekableStream, length: UInt64?, options: ReaderOptions) throws -> DiskImageReader {
        if try !stream.peek(VpcFooter.length).starts(with: VpcFooter.cookie) {
            return VpcFixedStreamReader(stream: stream, options: options)
        }
        let footer = try VpcFooter(bytes: try stream.peek(VpcFooter.length), name: options.name)
        if footer.diskType == VpcFooter.DiskType.differencing.rawValue {
            throw DiskImportError.unsupported("\(options.name): vpc: a differencing image's parent is only followed for plain local images" + options.inside)
        }
        return BlockTableStreamReader(stream: stream, length: length, virtualSize: footer.virtualSize, format: name, options: options) { ordered in
            let header = try VpcDynamicHeader(bytes: try ordered.read(at: footer.dataOffset, count: VpcDynamicHeader.length,
                                                                      what: "dynamic disk header"), footer: footer, name: options.name)
            let (offset, count) = try header.tableRange(virtualSize: footer.virtualSize, name: options.name)
            return try header.table(bytes: try ordered.read(at: offset, count: count, what: "block allocation table"),
                                    virtualSize: footer.virtualSize, name: options.name, fileLength: length)
        }
    }

    /// The footer only, as qemu-img info shows it: the size and, for a dynamic disk, its block size as the cluster
    /// size (vpc_get_info), which is in the dynamic header right after the footer copy in the images qemu writes.
    public static func describe(_ stream: PeekableStream, length: UInt64?, name: String) throws -> ImageDescription {
        if try !stream.peek(VpcFooter.length).starts(with: VpcFooter.cookie) {
            throw DiskImportError.unsupported("\(name): vpc: a fixed vhd's footer is at its end, past what info reads of a stream: describe a local file, or convert it")
        }
        let footer = try VpcFooter(bytes: try stream.peek(VpcFooter.length), name: name)
        var clusterSize: UInt64?
        if footer.dataOffset < 64 << 10 {
            let head = try stream.peek(Int(footer.dataOffset) + VpcDynamicHeader.length)
            if head.count == Int(footer.dataOffset) + VpcDynamicHeader.length {
                clusterSize = UInt64(try VpcDynamicHeader(bytes: Array(head[Int(footer.dataOffset)...]), footer: footer, name: name).blockSize)
            }
        }
        return ImageDescription(virtualSize: footer.virtualSize, details: ClusterSizeDetails(clusterSize: clusterSize))
    }

    /// A fixed vhd (`-f vpc`) has no block size: qemu-img info shows no cluster size for it.
    public static func describe(_ source: RandomAccessSource, name: String) throws -> ImageDescription {
        let head = try source.head(VpcFooter.length)
        if !head.starts(with: VpcFooter.cookie) {
            return ImageDescription(virtualSize: try VpcFixedDisk.footer(of: source, name: name).virtualSize)
        }
        let footer = try VpcFooter(bytes: head, name: name)
        let header = try VpcDynamicHeader(bytes: try source.bytes(at: footer.dataOffset, count: VpcDynamicHeader.length,
                                                          what: "the vpc dynamic disk header"), footer: footer, name: name)
        return ImageDescription(virtualSize: footer.virtualSize, details: ClusterSizeDetails(clusterSize: UInt64(header.blockSize)))
    }
}
