import DiskImportCore

/// Converts a qcow2 image that can only be read front to back (inside gzip, xz, zstd or tar): no seeking, no
/// decompressing to scratch first.
///
/// The stream is consumed in order. The header says where the L1 table is; when the stream passes the L1 table
/// it learns where the L2 tables are; when it passes an L2 table it learns which host clusters hold which guest
/// clusters; when it passes a data cluster (plain or compressed) it writes it to its guest offset. A cluster that
/// arrives before its mapping is known is kept in a scratch file (`scratchDirectory`) and placed when the mapping
/// arrives; without a scratch directory such an image fails with "scratch space required". Images written by
/// `qemu-img convert` put every L2 table before the clusters it maps, so they need no scratch.
public final class Qcow2StreamReader: DiskImageReader {
    public let header: Qcow2Header
    public var virtualSize: UInt64? { header.guestSize }
    /// Bytes written to the scratch file by the last conversion.
    public private(set) var scratchBytes: UInt64 = 0

    private let stream: PeekableStream
    private let name: String
    private let scratchDirectory: String?
    private let threads: Int
    private let memory: MemoryBudget

    /// Reads the header from the head of `stream` (which must start with the qcow2 magic). `name` names the
    /// image in messages. Images with a backing file are refused: there is nothing to resolve it against.
    public init(stream: PeekableStream, name: String, scratchDirectory: String?, threads: Int? = nil,
                memory: MemoryBudget = MemoryBudget()) throws {
        self.memory = memory
        self.stream = stream
        self.name = name
        self.scratchDirectory = scratchDirectory
        self.threads = threads ?? WorkerPool<Qcow2TransferJob>.defaultThreadCount
        header = try Qcow2Header.read(from: stream, name: name)
        try header.refuseWhatStreamsCannotResolve(name: name)
    }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        // The scratch store first: once the pool runs, every exit must go through its finish().
        let scratch = try Qcow2StreamScratch(directory: scratchDirectory, clusterSize: Int(header.clusterSize), budget: memory)
        defer { scratchBytes = scratch.bytesWritten }
        let pool = try WorkerPool<Qcow2TransferJob>(threads: threads, queueDepth: 2 * threads) {
            let worker = Qcow2TransferWorker(sink: sink, progress: progress)
            return { job in try worker.run(job) }
        }
        do {
            let session = try Qcow2StreamSession(header: header, name: name, scratch: scratch, shared: Qcow2StreamCoordinator()) {
                try pool.submit($0)
            }
            try session.run(stream)
        } catch {
            pool.fail(error)
            try? pool.finish()
            throw error
        }
        try pool.finish()
        return header.guestSize
    }
}

extension Qcow2Header {
    /// Refuses an image read as a stream that needs another file: an external data file, a backing file.
    func refuseWhatStreamsCannotResolve(name: String) throws {
        try refuseExternalDataFile(name: name)
        if let backing = extensions.backingFileName, !backing.isEmpty {
            throw DiskImportError.unsupported("\(name): the qcow2 image has a backing file (\(backing)); backing files are only followed for plain local images")
        }
    }
}
