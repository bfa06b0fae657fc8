#if canImport(Glibc)
import Glibc
#endif

/// Runs the stage before it on its own thread: a producer thread reads `upstream` into a bounded ring of reusable
/// buffers while the consumer (the next stage, on the caller's thread) takes them, so download ‖ decompress ‖ write
/// overlap with at most `depth × chunkSize` bytes in flight whatever the image size (DESIGN.md section 3).
///
/// After the stream is handed over, `upstream` belongs to the producer thread: nothing else may read it.
/// Errors reach the consumer in order, after the bytes read before them. Releasing the stream (early exit, error)
/// stops the producer and joins it: the thread never outlives the stream, and it never blocks on a full ring nobody
/// will empty. It may finish an `upstream.read` already in progress first (a network read ends at its stall timeout).
public final class PrefetchingStream: ByteStream {
    private let ring: PrefetchRing
    private var thread: pthread_t
    public let expectedLength: UInt64?
    /// The buffer being handed out: its index, how far the consumer has read, and its length.
    private var current: (index: Int, offset: Int, length: Int)?
    private var pendingError: (any Error)?

    /// Starts the producer thread with pthread_create.
    public init(_ upstream: ByteStream, chunkSize: Int = 1 << 20, depth: Int = 4) throws {
        precondition(chunkSize > 0 && depth > 0, "PrefetchingStream needs a positive chunk size and depth")
        expectedLength = upstream.expectedLength
        ring = PrefetchRing(upstream: upstream, chunkSize: chunkSize, depth: depth)
        let context = Unmanaged.passRetained(ring).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, prefetchThreadMain, context)
        guard rc == 0 else {
            Unmanaged<PrefetchRing>.fromOpaque(context).release()
            throw DiskImportError(.io, "cannot start a prefetching thread: \(String(cString: strerror(rc)))")
        }
        self.thread = thread
    }

    deinit {
        ring.cancel()
        pthread_join(thread, nil)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let destination = buffer.baseAddress, buffer.count > 0 else { return 0 }
        if current == nil {
            if let pendingError { throw pendingError }
            switch ring.takeFilled() {
            case .chunk(let index, let length):
                current = (index, 0, length)
            case .failed(let error):
                pendingError = error
                throw error
            case .ended:
                return 0
            }
        }
        let (index, offset, length) = current!
        let n = min(buffer.count, length - offset)
        destination.copyMemory(from: ring.buffers[index].baseAddress! + offset, byteCount: n)
        if offset + n == length {
            current = nil
            ring.release(index)
        } else {
            current = (index, offset + n, length)
        }
        return n
    }
}

/// The state the producer thread and the consumer share, behind one mutex and one condition variable.
final class PrefetchRing: @unchecked Sendable {
    enum Taken {
        case chunk(index: Int, length: Int)
        case failed(any Error)
        case ended
    }

    let buffers: [UnsafeMutableRawBufferPointer]
    private let chunkSize: Int
    /// Only the producer thread touches it; released when the producer exits.
    private var upstream: ByteStream?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`:
    private var free: [Int]
    /// Filled buffers in order: a fixed circle of `buffers.count` slots.
    private var filled: [(index: Int, length: Int)]
    private var filledStart = 0
    private var filledCount = 0
    private var ended = false
    private var error: (any Error)?
    private var cancelled = false

    init(upstream: ByteStream, chunkSize: Int, depth: Int) {
        self.upstream = upstream
        self.chunkSize = chunkSize
        buffers = (0..<depth).map { _ in .allocate(byteCount: chunkSize, alignment: 4096) }
        free = Array((0..<depth).reversed())
        filled = Array(repeating: (0, 0), count: depth)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
        for buffer in buffers { buffer.deallocate() }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Producer: fills free buffers until the upstream ends, fails, or the consumer goes away.
    func produce() {
        defer { upstream = nil }
        while let index = waitForFreeBuffer() {
            // Fill the buffer (fewer, larger hand-overs); bytes read before a failure still go out ahead of it.
            let buffer = buffers[index]
            var n = 0
            var failure: (any Error)?
            do {
                while n < chunkSize {
                    let got = try upstream!.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[n...]))
                    if got == 0 { break }
                    n += got
                }
            } catch {
                failure = error
            }
            let atEnd = n < chunkSize || failure != nil
            locked {
                if n > 0 {
                    filled[(filledStart + filledCount) % filled.count] = (index, n)
                    filledCount += 1
                } else {
                    free.append(index)
                }
                error = failure
                ended = atEnd
                pthread_cond_signal(changed)
            }
            if atEnd { return }
        }
    }

    private func waitForFreeBuffer() -> Int? {
        locked {
            while free.isEmpty && !cancelled { pthread_cond_wait(changed, mutex) }
            return cancelled ? nil : free.removeLast()
        }
    }

    /// Consumer: the next filled buffer, blocking until there is one, the stream ended, or the producer failed.
    func takeFilled() -> Taken {
        locked {
            while filledCount == 0 && !ended && error == nil { pthread_cond_wait(changed, mutex) }
            if filledCount > 0 {
                let taken = filled[filledStart]
                filledStart = (filledStart + 1) % filled.count
                filledCount -= 1
                return .chunk(index: taken.index, length: taken.length)
            }
            if let error { return .failed(error) }
            return .ended
        }
    }

    /// Consumer: gives a drained buffer back to the producer.
    func release(_ index: Int) {
        locked {
            free.append(index)
            pthread_cond_signal(changed)
        }
    }

    /// Consumer going away: wakes the producer so it exits at its next wait.
    func cancel() {
        locked {
            cancelled = true
            pthread_cond_signal(changed)
        }
    }
}

/// The producer thread's entry point: a plain C function, the ring passed as a retained context pointer.
private func prefetchThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let ring = Unmanaged<PrefetchRing>.fromOpaque(context!).takeRetainedValue()
    ring.produce()
    return nil
}
