import Codecs
import DiskImportCore

extension ImageFormat {
    /// VMware's vmdk: hosted sparse, stream-optimized, flat and split images, seSparse extents, delta disks.
    public static let vmdk = ImageFormat(VmdkFormat.self)
}

/// vmdk's readers: by random access for a local image (its extents and parents beside it, `VmdkReader`) or a single
/// sparse file over ranged reads (--http-random-access), front to back for anything else (`VmdkStreamReader`: a stream-optimized image streams by its grain markers with no
/// scratch space, a hosted sparse one by its tables, which qemu-img writes before the grains).
public enum VmdkFormat: DiskImageFormat {
    public static let name = "vmdk"
    public static var capabilities: FormatCapabilities { [.localFile, .rangedReads] }

    /// Whether `head` is a vmdk as qemu's vmdk_probe sees it: a hosted sparse extent, or a text descriptor.
    /// (qemu also probes "COWD", version 3 sparse files, which `FormatSniffer` names unsupported.)
    public static func probe(_ head: [UInt8]) -> Bool {
        head.starts(with: VmdkSparseHeader.magic) || VmdkDescriptor.probe(head)
    }

    public static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader {
        if let file = source as? LocalFile { return try VmdkReader(file: file, followBacking: options.followBacking) }
        return try VmdkReader(source: source)
    }

    public static func streamingReader(_ stream: PeekableStream, length: UInt64?, options: ReaderOptions) throws -> DiskImageReader {
        try VmdkStreamReader(stream: stream, name: options.name, scratchDirectory: options.scratchDirectory)
    }

    /// From the head of the stream: the sparse header and its embedded descriptor, or a descriptor file's text
    /// (whose extents cannot be opened from a stream: their sizes are the descriptor's).
    public static func describe(_ stream: PeekableStream, length: UInt64?, name: String) throws -> ImageDescription {
        let details = try details(head: try stream.peek(512 + VmdkImage.descriptorReadLength), name: name)
        return ImageDescription(virtualSize: details.extents.reduce(0) { $0 + $1.virtualSize }, details: details)
    }

    /// What the first bytes of a vmdk say (the sparse header and its embedded descriptor, or a descriptor's text
    /// and extent lines), from a buffer in memory: the entry point for fuzzing the header and descriptor parsers.
    /// Any input either parses or throws a `DiskImportError`.
    public static func details(head: [UInt8], name: String) throws -> VmdkDetails {
        let details: VmdkDetails
        if head.starts(with: VmdkSparseHeader.magic) {
            let header = try head.withUnsafeBytes { try VmdkSparseHeader($0, name: name) }
            try header.validate(fileLength: nil, name: name)
            let descriptor = VmdkDescriptor(head.dropFirst(512))
            let extent = VmdkExtentInfo(filename: name, format: "", virtualSize: header.virtualSize, compressed: header.isCompressed,
                                        clusterSize: header.grainBytes)
            details = try VmdkDetails(createType: header.isCompressed ? "streamOptimized" : "monolithicSparse",
                                      cid: descriptor.cid(parent: false) ?? 0, parentCID: descriptor.cid(parent: true) ?? 0,
                                      parentHint: descriptor.parentFileNameHint(name: name), imagePath: name, extents: [extent])
        } else {
            let descriptor = VmdkDescriptor(head)
            let directory = VmdkFileNames.directory(of: name)
            let extents = try VmdkExtentLine.parse(descriptor, name: name).map { line in
                VmdkExtentInfo(filename: directory.isEmpty ? line.fileName : directory + "/" + line.fileName, format: line.kind.rawValue,
                               virtualSize: line.sectors * 512, compressed: false, clusterSize: nil)
            }
            details = try VmdkDetails(createType: descriptor.createType() ?? "", cid: descriptor.cid(parent: false) ?? 0,
                                      parentCID: descriptor.cid(parent: true) ?? 0, parentHint: descriptor.parentFileNameHint(name: name),
                                      imagePath: name, extents: extents)
        }
        var total: UInt64 = 0
        for extent in details.extents {
            let (sum, overflow) = total.addingReportingOverflow(extent.virtualSize)
            guard !overflow, sum <= UInt64(Int64.max) else { throw DiskImportError.corrupt("\(name): vmdk: the extents add up to more than 2^63 bytes") }
            total = sum
        }
        return details
    }

    /// A local image is opened with its extents (its parent is named, not opened, as qemu-img info does).
    public static func describe(_ source: RandomAccessSource, name: String) throws -> ImageDescription {
        guard source is LocalFile else { return try describe(PeekableStream(source.stream()), length: source.length, name: name) }
        let image = try VmdkImage(file: source, followExtents: true)
        return ImageDescription(virtualSize: image.virtualSize, details: VmdkDetails(image: image))
    }
}
