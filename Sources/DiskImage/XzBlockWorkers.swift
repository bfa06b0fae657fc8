import Codecs
import DiskImportCore

/// The threads that decode buffered xz blocks and write them at their guest offsets, and the buffers that carry the
/// blocks to them. The first failure stops everyone: the buffers are cancelled (the reader stops waiting for one),
/// running decoders stop at their next chunk, queued blocks are dropped, and `finish` rethrows it.
final class XzBlockWorkers {
    private let pool: WorkerPool<XzBlockJob>
    private let buffers: XzBlockBuffers

    /// Starts `threads` workers; at most `threads + 1` blocks are buffered at once, in at most `bufferBudget` bytes.
    init(threads: Int, bufferBudget: Int, chunkSize: Int, sink: ExtentSink, progress: TransferProgress) throws {
        let buffers = XzBlockBuffers(maximumCount: threads + 1, byteBudget: bufferBudget)
        self.buffers = buffers
        pool = try WorkerPool(threads: threads, queueDepth: threads + 1) {
            let decoder = XzBlockDecoder(chunkSize: chunkSize)
            return { job in
                do {
                    var offset = job.block.decodedOffset
                    try decoder.decodeWhole(job.block, from: job.data) { bytes in
                        if buffers.isCancelled { throw XzBlockWorkers.stopped }
                        try sink.write(bytes, at: offset)
                        progress.addGuestBytes(UInt64(bytes.count))
                        offset += UInt64(bytes.count)
                    }
                } catch {
                    // The first real failure is the one reported; the others stop because of it.
                    buffers.cancel(because: (error as? DiskImportError) == XzBlockWorkers.stopped ? nil : error)
                    throw error
                }
            }
        }
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
