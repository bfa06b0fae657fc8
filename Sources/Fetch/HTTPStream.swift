import DiskImportCore

/// The body of one HTTP(S) resource as a `ByteStream`, downloaded on its own thread (`StreamDownload`) into a
/// bounded queue of reusable buffers, so the download overlaps decompression and writing while memory stays at
/// `bufferCount × bufferSize`.
///
/// A dropped or stalled connection is resumed where it stopped (see `StreamDownload`): the bytes read from this
/// stream are exactly the resource's bytes, or the read throws.
public final class HTTPStream: ByteStream {
    /// The first response's head (status 200).
    public let head: HTTPResponseHead
    public let url: String
    private let queue: ChunkQueue
    private let thread: WorkerThread
    private var current: ChunkQueue.Chunk?
    private var offsetInCurrent = 0

    /// 8 buffers of 512 KiB: 4 MiB in flight, a few milliseconds of a loopback download, which is slack enough for
    /// the stage after it; a peak RSS budget of 128 MiB for a streaming import (liblzma alone takes 84 MiB of it for
    /// `xz -T2` blocks, the binary's shared libraries 28) leaves no room for more.
    public convenience init(client: HTTPClient, url: String, headers: [String] = [], sendCredentials: Bool = true,
                bufferCount: Int = 8, bufferSize: Int = 512 << 10) throws {
        var request = HTTPRequest(url: url)
        request.headers = headers
        request.sendCredentials = sendCredentials
        try self.init(client: client, request: request, bufferCount: bufferCount, bufferSize: bufferSize)
    }

    /// The body of `request` (an object store's signed GET), streamed and resumed as above.
    init(client: HTTPClient, request: HTTPRequest, bufferCount: Int = 8, bufferSize: Int = 512 << 10) throws {
        var request = request
        request.bulk = true
        url = request.url
        let queue = ChunkQueue(count: bufferCount, size: bufferSize)
        let download = try StreamDownload(client: client, request: request, queue: queue)
        let thread = try WorkerThread(download)
        do {
            head = try queue.waitOpened()
        } catch {
            queue.cancel()
            thread.join()
            throw error
        }
        self.queue = queue
        self.thread = thread
    }

    deinit {
        queue.cancel()
        thread.join()
    }

    /// The resource's length from the first response (Content-Length), when the server sent it.
    public var expectedLength: UInt64? { head.contentLength }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if current == nil {
            guard let next = try queue.next() else { return 0 }
            current = next
            offsetInCurrent = 0
        }
        let chunk = current!
        let n = min(buffer.count, chunk.count - offsetInCurrent)
        buffer.baseAddress!.copyMemory(from: chunk.memory.baseAddress! + offsetInCurrent, byteCount: n)
        offsetInCurrent += n
        if offsetInCurrent == chunk.count {
            queue.recycle(chunk.memory)
            current = nil
        }
        return n
    }
}
