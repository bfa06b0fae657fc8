import CLzma
import Codecs
import DiskImportCore

/// A qcow2 image inside .xz, its blocks decoded on all cores and their clusters placed out of order.
///
/// liblzma's threaded decoder hands out decoded blocks in order, so each worker holds its whole decoded block
/// (24 MiB with `xz -T2 -6`) until the reader takes it: inside the 128 MiB budget that leaves about one and a half
/// blocks in flight. Here, as for raw (`XzParallelRawReader`), each worker decodes a block 1 MiB at a time and places
/// what it decodes at once (`Qcow2BlockPlacer`): in an image laid out as qemu-img writes it, every L2 table comes
/// before the clusters it maps, so by the time a worker decodes a data cluster its mapping is nearly always known,
/// or about to be, from a table in the same or an earlier block. What cannot be placed out of order goes through the
/// streaming reader's session in image order (`Qcow2StreamSession`), so images convert here to the same bytes, with the
/// same scratch rules, as front to back. One exception fails loudly instead: a data cluster shared by two L2 tables
/// whose second table comes after a worker wrote the cluster (`Qcow2StreamSession.skip(to:)`).
public final class XzParallelQcow2Reader: DiskImageReader {
    public let header: Qcow2Header
    public var virtualSize: UInt64? { header.guestSize }
    /// Bytes written to the scratch file by the last conversion.
    public private(set) var scratchBytes: UInt64 = 0

    private let stream: ByteStream
    private let name: String
    private let scratchDirectory: String?
    private let threads: Int
    private let memoryLimit: UInt64
    private let memory: MemoryBudget

    /// - Parameters:
    ///   - stream: the .xz data (its stream header next).
    ///   - header: the qcow2 header, read from the decoded head of the data (`XzHead`).
    public init(stream: ByteStream, header: Qcow2Header, name: String, scratchDirectory: String?, threads: Int? = nil,
                memoryLimit: UInt64 = XzStream.defaultMemoryLimit, memory: MemoryBudget = MemoryBudget()) throws {
        self.memory = memory
        self.stream = stream
        self.header = header
        self.name = name
        self.scratchDirectory = scratchDirectory
        self.threads = max(1, threads ?? XzBlockParallelism.defaultThreadCount)
        self.memoryLimit = memoryLimit
        try header.refuseWhatStreamsCannotResolve(name: name)
    }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        // The workers take their share at the first block, the memory tier what is left at its first cluster.
        let share = XzBlockShare(budget: memory)
        let scratch = try Qcow2StreamScratch(directory: scratchDirectory, clusterSize: Int(header.clusterSize), budget: memory)
        defer { scratchBytes = scratch.bytesWritten }
        let shared = Qcow2StreamCoordinator()
        let transfers = try WorkerPool<Qcow2TransferJob>(threads: 1, queueDepth: 4) {
            let worker = Qcow2TransferWorker(sink: sink, progress: progress)
            return { job in try worker.run(job) }
        }
        let session = try Qcow2StreamSession(header: header, name: name, scratch: scratch, shared: shared) { try transfers.submit($0) }
        let layout = Qcow2StreamLayout(header: header, name: name)
        // A cluster is never split between chunks, so that a worker can place it from its chunk.
        let chunkSize = max(XzBlockParallelism.chunkSize, Int(header.clusterSize))
        let splitter = XzBlockSplitter(stream, memoryLimit: memoryLimit)
        var workers: XzBlockWorkers?
        var localDecoder: XzBlockDecoder?
        do {
            while let block = try splitter.nextBlock() {
                if share.admits(block, threads: threads, chunkSize: chunkSize), let uncompressed = block.uncompressedSize {
                    let (end, overflow) = block.decodedOffset.addingReportingOverflow(uncompressed)
                    guard !overflow else { throw DiskImportError.corrupt("xz: the block sizes add up to more than an .xz stream can hold") }
                    shared.register(block.decodedOffset..<end)
                    let pool = try workers ?? XzBlockWorkers(
                        threads: share.threads, bufferBudget: share.bufferBytes, chunkSize: chunkSize) {
                        Qcow2BlockPlacer(layout: layout, shared: shared, session: session, sink: sink, progress: progress)
                    }
                    workers = pool
                    try pool.submit(block, from: splitter)
                } else {
                    // Decoded here, in order, once every block before it has gone through the session.
                    workers?.drain()
                    try shared.takeIdleSession()
                    let decoder = localDecoder ?? XzBlockDecoder(chunkSize: chunkSize)
                    localDecoder = decoder
                    var offset = block.decodedOffset
                    try splitter.decodeHere(block, with: decoder) { bytes in
                        try session.feed(bytes, at: offset)
                        offset += UInt64(bytes.count)
                    }
                    shared.releaseIdleSession()
                }
            }
            try workers?.finish()
            try session.finish()
        } catch {
            let first = shared.firstError ?? error
            shared.cancel(because: first)
            workers?.abort()
            transfers.fail(first)
            try? transfers.finish()
            throw first
        }
        try transfers.finish()
        return header.guestSize
    }
}
