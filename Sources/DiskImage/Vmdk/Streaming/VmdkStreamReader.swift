import DiskImportCore

/// Reads a vmdk front to back (inside a wrapper, over HTTP, from a pipe). The image must be one sparse file: a
/// descriptor's extent files and a parent cannot be reached from a stream, and are refused with CDI's words.
///
/// - stream-optimized (grain markers): every grain says where it goes, so it is placed as it arrives, inflated on
///   every core, with no scratch space (`VmdkMarkerStream`);
/// - hosted sparse: qemu-img writes the grain directory and tables before the grains, so they are read first and
///   each grain placed as it passes (`VmdkTableStream`); an image whose tables come after its grains is spooled to
///   scratch space when there is some (`--scratch`), and refused with a clear message when not.
public final class VmdkStreamReader: DiskImageReader {
    private let stream: PeekableStream
    private let name: String
    private let scratchDirectory: String?
    private let header: VmdkSparseHeader
    private let threads: Int
    public let virtualSize: UInt64?
    public private(set) var scratchBytes: UInt64 = 0

    public init(stream: PeekableStream, name: String, scratchDirectory: String?, threads: Int? = nil) throws {
        self.stream = stream
        self.name = name
        self.scratchDirectory = scratchDirectory
        self.threads = threads ?? WorkerPool<VmdkTransferJob>.defaultThreadCount
        let head = try stream.peek(512 + VmdkImage.descriptorReadLength)
        guard head.starts(with: VmdkSparseHeader.magic) else {
            let extent = (try? VmdkExtentLine.parse(VmdkDescriptor(head), name: name).first?.fileName) ?? nil
            throw DiskImportError.unsupported("Image \(name) is invalid because it has extent file \(extent ?? "(none named)"); "
                + "a vmdk descriptor's extent files are only followed for plain local images")
        }
        header = try head.withUnsafeBytes { try VmdkSparseHeader($0, name: name) }
        try header.validate(fileLength: nil, name: name)
        // CDI refuses an image with a backing file (pkg/image/qemu.go checkIfURLIsValid), in these words.
        if let parent = try VmdkDescriptor(head.dropFirst(512)).parentFileNameHint(name: name) {
            throw DiskImportError.unsupported("Image \(name) is invalid because it has backing file \(parent)")
        }
        virtualSize = header.virtualSize
    }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        if header.isCompressed && header.hasMarkers {
            try VmdkMarkerStream(stream: stream, header: header, name: name, threads: threads).convert(to: sink, progress: progress)
            return header.virtualSize
        }
        let tables = VmdkTableStream(stream: stream, header: header, name: name)
        switch try tables.convert(to: sink, progress: progress) {
        case .done:
            return header.virtualSize
        case .needsRandomAccess(let reason, let consumed):
            guard let scratchDirectory else {
                throw DiskImportError(.scratchRequired, "scratch space required: \(name): \(reason) in the stream; give a scratch directory (--scratch DIR)")
            }
            let spool = try VmdkScratchSpool(directory: scratchDirectory, name: name)
            let file = try spool.fill(head: consumed, rest: stream)
            scratchBytes = file.length
            return try VmdkReader(source: file, threads: threads).convert(to: sink, progress: progress)
        }
    }
}
