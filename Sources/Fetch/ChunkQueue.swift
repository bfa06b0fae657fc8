import DiskImportCore

/// A bounded pool of reusable buffers that a producer thread fills and a consumer drains, in order.
///
/// Memory is `count × size` whatever the transfer's length; a producer that gets ahead waits for a buffer to come
/// back (back-pressure), a consumer that gets ahead waits for data. The producer publishes a partly filled buffer
/// when the consumer is waiting, so slow sources do not add latency, and only full buffers otherwise.
final class ChunkQueue: @unchecked Sendable {
    struct Chunk {
        let memory: UnsafeMutableRawBufferPointer
        var count: Int
    }

    let bufferSize: Int
    private let monitor = Monitor()
    private var allBuffers: [UnsafeMutableRawBufferPointer] = []
    private var free: [UnsafeMutableRawBufferPointer] = []
    private var ready: [Chunk] = []
    private var readyHead = 0
    private var finished = false
    private var failure: DiskImportError?
    private var cancelled = false
    /// Set with `cancelled`, without the lock: libcurl's progress callback polls it about once a second, so a
    /// consumer that goes away stops a transfer that is idle (a slow or stalled server) too, not only one that is
    /// waiting for a free buffer.
    let cancelFlag = CancelFlag()
    private var waitingConsumer = false
    private var openedHead: HTTPResponseHead?

    init(count: Int, size: Int) {
        bufferSize = size
        for _ in 0..<count {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
            allBuffers.append(buffer)
            free.append(buffer)
        }
    }

    deinit {
        for buffer in allBuffers { buffer.deallocate() }
    }

    // MARK: producer side

    /// A free buffer, waiting for one; nil once the consumer has cancelled.
    func acquire() -> UnsafeMutableRawBufferPointer? {
        monitor.locked {
            while free.isEmpty && !cancelled { monitor.wait() }
            return cancelled ? nil : free.removeLast()
        }
    }

    /// Hands `count` bytes of `buffer` to the consumer.
    func publish(_ buffer: UnsafeMutableRawBufferPointer, count: Int) {
        monitor.locked {
            ready.append(Chunk(memory: buffer, count: count))
            monitor.broadcast()
        }
    }

    /// Whether the consumer is blocked waiting for data.
    var consumerIsWaiting: Bool { monitor.locked { waitingConsumer } }

    /// The first response was accepted: the opener may return.
    func markOpened(_ head: HTTPResponseHead) {
        monitor.locked {
            openedHead = head
            monitor.broadcast()
        }
    }

    /// No more data: the end of the body, or `error`.
    func finish(_ error: DiskImportError?) {
        monitor.locked {
            finished = true
            failure = error
            monitor.broadcast()
        }
    }

    /// Sleeps `seconds` unless the consumer cancels first; returns false when cancelled.
    func pause(seconds: Double) -> Bool {
        monitor.locked {
            let deadline = Monotonic.now() + seconds
            while !cancelled {
                let left = deadline - Monotonic.now()
                if left <= 0 { break }
                monitor.wait(seconds: left)
            }
            return !cancelled
        }
    }

    var isCancelled: Bool { monitor.locked { cancelled } }

    // MARK: consumer side

    /// Waits for the first response head, or throws the error that ended the transfer before it.
    func waitOpened() throws -> HTTPResponseHead {
        try monitor.locked {
            while openedHead == nil && !finished { monitor.wait() }
            if let openedHead { return openedHead }
            throw failure ?? DiskImportError(.network, "the transfer ended before a response")
        }
    }

    /// The next chunk in order; nil at the end of the body; throws the transfer's error once the data before it
    /// has been consumed.
    func next() throws -> Chunk? {
        try monitor.locked {
            while readyHead == ready.count && !finished {
                waitingConsumer = true
                monitor.wait()
            }
            waitingConsumer = false
            if readyHead < ready.count {
                let chunk = ready[readyHead]
                readyHead += 1
                if readyHead == ready.count {
                    ready.removeAll(keepingCapacity: true)
                    readyHead = 0
                }
                return chunk
            }
            if let failure { throw failure }
            return nil
        }
    }

    /// Gives a consumed buffer back to the producer.
    func recycle(_ buffer: UnsafeMutableRawBufferPointer) {
        monitor.locked {
            free.append(buffer)
            monitor.broadcast()
        }
    }

    /// The consumer is gone: wake and stop the producer.
    func cancel() {
        cancelFlag.set()
        monitor.locked {
            cancelled = true
            monitor.broadcast()
        }
    }
}
