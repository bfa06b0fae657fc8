import Codecs
import DiskImportCore

/// What a block worker does with the decoded bytes of its blocks: one per worker thread, reused block after block.
protocol XzBlockConsumer: AnyObject {
    func begin(_ block: XzBlock) throws
    /// Decoded bytes of the current block, at decoded offset `offset` (in order within the block).
    func consume(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws
    func end(_ block: XzBlock) throws
    /// The current block failed, in the consumer or in its decoder, or another worker's did.
    func abandon(because error: any Error)
}

/// The threads that decode buffered xz blocks and hand their output to a consumer each, and the buffers that carry
/// the blocks to them. The first failure stops everyone: the buffers are cancelled (the reader stops waiting for one),
/// running decoders stop at their next chunk, queued blocks are dropped, and `finish` rethrows it.
final class XzBlockWorkers {
    private let pool: WorkerPool<XzBlockJob>
    private let buffers: XzBlockBuffers

    /// Starts `threads` workers, each with a consumer from `makeConsumer`; at most `threads + 1` blocks are buffered
    /// at once, in at most `bufferBudget` bytes. Blocks are decoded in the order they are submitted (FIFO).
    init(threads: Int, bufferBudget: Int, chunkSize: Int, makeConsumer: @escaping @Sendable () -> XzBlockConsumer) throws {
        let buffers = XzBlockBuffers(maximumCount: threads + 1, byteBudget: bufferBudget)
        self.buffers = buffers
        pool = try WorkerPool(threads: threads, queueDepth: threads + 1) {
            let decoder = XzBlockDecoder(chunkSize: chunkSize)
            let consumer = makeConsumer()
            return { job in
                do {
                    var offset = job.block.decodedOffset
                    try consumer.begin(job.block)
                    try decoder.decodeWhole(job.block, from: job.data) { bytes in
                        if buffers.isCancelled { throw XzBlockWorkers.stopped }
                        try consumer.consume(bytes, at: offset)
                        offset += UInt64(bytes.count)
                    }
                    try consumer.end(job.block)
                } catch {
                    // The first real failure is the one reported; the others stop because of it.
                    let stopped = (error as? DiskImportError) == XzBlockWorkers.stopped
                    buffers.cancel(because: stopped ? nil : error)
                    consumer.abandon(because: error)
                    throw error
                }
            }
        }
    }

    /// As many of `threads` workers as `memoryBudget` allows for decoders needing `decoderMemory` and a chunk each.
    static func count(threads: Int, decoderMemory: UInt64, chunkSize: Int, memoryBudget: UInt64) -> Int {
        let perWorker = max(1, decoderMemory + UInt64(chunkSize))
        return max(1, min(threads, Int(memoryBudget / perWorker)))
    }

    /// Reads the pending `block`'s bytes from `splitter` into a buffer (waiting for one) and queues it.
    func submit(_ block: XzBlock, from splitter: XzBlockSplitter) throws {
        guard let size = block.dataSize, let buffer = buffers.take(Int(size)) else {
            // Cancelled: a worker failed, and finish() rethrows its error.
            try finish()
            throw Self.stopped
        }
        let job = XzBlockJob(block: block, buffer: buffer, count: Int(size), buffers: buffers)
        try splitter.readData(of: block, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(size)]))
        try pool.submit(job)
    }

    /// Waits until the workers have decoded every queued block (their buffers are back), then frees the buffers.
    func drain() { buffers.drain() }

    /// Lets the workers finish the queued blocks, joins them, and throws the first error any of them hit.
    func finish() throws {
        do {
            try pool.finish()
        } catch {
            throw buffers.firstError ?? error
        }
    }

    /// Stops the workers (after the blocks they are writing reach their next chunk) and joins them.
    func abort() {
        buffers.cancel()
        pool.fail(Self.stopped)
        _ = try? pool.finish()
    }

    /// What a worker throws when it stops because another failed: never the error reported (the first one is).
    static let stopped = DiskImportError(.io, "xz: decoding stopped after an earlier failure")
}

/// One block for a worker: its decoded header and its bytes after the header, in a buffer that goes back to the
/// set when the job is done or dropped.
final class XzBlockJob: @unchecked Sendable {
    let block: XzBlock
    private let buffer: UnsafeMutableRawBufferPointer
    private let count: Int
    private let buffers: XzBlockBuffers

    init(block: XzBlock, buffer: UnsafeMutableRawBufferPointer, count: Int, buffers: XzBlockBuffers) {
        self.block = block
        self.buffer = buffer
        self.count = count
        self.buffers = buffers
    }

    deinit { buffers.give(buffer) }

    var data: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[..<count]) }
}
