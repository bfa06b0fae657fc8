import DiskImportCore
import Fetch
import NIOCore

/// An upload's bytes on their way from the event loop (the producer: request bodies, possibly several tus PATCH
/// requests one after the other) to the import thread (the consumer, which reads it as a `ByteStream`).
///
/// Bounded: once `highWater` bytes wait, `append` tells the producer to stop reading the socket, and the consumer
/// calls `onSpace` when it has drained them to `lowWater`, so memory stays bounded whatever the upload's size and
/// however slow the disk is. The pipe outlives any one connection: a tus upload whose connection drops keeps every
/// byte it accepted, and the import behind it keeps its state while the client reconnects.
final class BodyPipe: ByteStream, @unchecked Sendable {
    let expectedLength: UInt64?
    let highWater: Int
    let lowWater: Int

    private enum State {
        case open
        /// Every byte is in; the consumer reads the rest, then the end.
        case finished
        /// The upload broke (a cut plain request, a deadline); the consumer's next read throws this.
        case failed(DiskImportError)
        /// The consumer is done with the stream; later bytes are discarded.
        case closed
    }

    private let monitor = Monitor()
    /// Consumed entries are nil at once: a slice keeps its whole storage (a TLS or HTTP decoder buffer) alive.
    private var queue: [ByteBuffer?] = []
    private var queueHead = 0
    private var buffered = 0
    private var state = State.open
    private var producerPaused = false
    private var endSeen = false
    /// Runs on the consumer thread, outside the lock, when a paused producer may read again.
    private let onSpace: @Sendable () -> Void
    /// Runs on the consumer thread, once, when it has read the end of the stream.
    private let onEnd: @Sendable () -> Void

    init(expectedLength: UInt64?, highWater: Int = 8 << 20, lowWater: Int = 2 << 20,
         onSpace: @escaping @Sendable () -> Void, onEnd: @escaping @Sendable () -> Void) {
        self.expectedLength = expectedLength
        self.highWater = highWater
        self.lowWater = lowWater
        self.onSpace = onSpace
        self.onEnd = onEnd
    }

    // MARK: producer (the event loop)

    /// Queues `buffer`; returns false when the producer should stop reading until `onSpace` runs.
    @discardableResult
    func append(_ buffer: ByteBuffer) -> Bool {
        guard buffer.readableBytes > 0 else { return true }
        return monitor.locked {
            guard case .open = state else { return true }
            queue.append(buffer)
            buffered += buffer.readableBytes
            monitor.broadcast()
            if buffered >= highWater {
                producerPaused = true
                return false
            }
            return true
        }
    }

    /// Whether the producer was told to pause and has not been released yet.
    var isProducerPaused: Bool { monitor.locked { producerPaused } }

    /// The last byte is in.
    func finish() {
        monitor.locked {
            if case .open = state { state = .finished }
            monitor.broadcast()
        }
    }

    /// The upload broke: bytes still queued are dropped and the consumer's next read throws `error`.
    func fail(_ error: DiskImportError) {
        monitor.locked {
            switch state {
            case .open, .finished:
                state = .failed(error)
                queue.removeAll()
                queueHead = 0
                buffered = 0
            case .failed, .closed:
                break
            }
            monitor.broadcast()
        }
    }

    // MARK: consumer (the import thread)

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        var wakeProducer = false
        let n: Int = try monitor.locked {
            while queueHead == queue.count, case .open = state { monitor.wait() }
            if queueHead < queue.count, var head = queue[queueHead] {
                let n = head.withUnsafeReadableBytes { source in
                    let n = min(source.count, buffer.count)
                    buffer.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: n)
                    return n
                }
                head.moveReaderIndex(forwardBy: n)
                if head.readableBytes == 0 {
                    queue[queueHead] = nil
                    queueHead += 1
                    if queueHead > 64 && queueHead * 2 > queue.count {
                        queue.removeFirst(queueHead)
                        queueHead = 0
                    }
                } else {
                    queue[queueHead] = head
                }
                buffered -= n
                if producerPaused && buffered <= lowWater {
                    producerPaused = false
                    wakeProducer = true
                }
                return n
            }
            switch state {
            case .failed(let error): throw error
            case .open, .finished, .closed: return 0
            }
        }
        if wakeProducer { onSpace() }
        if n == 0 && !endSeen {
            endSeen = true
            onEnd()
        }
        return n
    }

    /// Reads and discards the rest of the stream (bytes after the image, which its reader did not need), waiting
    /// for the producer's end; throws when the upload breaks first.
    func drain() throws {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { scratch.deallocate() }
        while try read(into: scratch) > 0 {}
    }

    /// The consumer is done: queued and later bytes are dropped, and a paused producer is released.
    func close() {
        let wake: Bool = monitor.locked {
            state = .closed
            queue.removeAll()
            queueHead = 0
            buffered = 0
            defer { producerPaused = false }
            return producerPaused
        }
        if wake { onSpace() }
    }
}
