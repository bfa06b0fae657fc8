import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// The buffers holding compressed xz blocks between the thread that reads them and the workers that decode them:
/// at most `maximumCount` in use and at most `byteBudget` allocated, so memory stays bounded whatever the blocks.
/// Buffers are kept for reuse (a new one is faulted in page by page; a block of `xz -T2 -6` is up to 24 MiB).
///
/// `cancel(because:)` (a worker failed, or the reader gave up) wakes every waiter and makes further waits return at once.
final class XzBlockBuffers: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let returned = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let maximumCount: Int
    let byteBudget: Int
    // Guarded by `mutex`:
    private var free: [UnsafeMutableRawBufferPointer] = []
    private var inUse = 0
    private var allocatedBytes = 0
    private var cancelled = false
    private var failure: (any Error)?

    init(maximumCount: Int, byteBudget: Int) {
        self.maximumCount = max(1, maximumCount)
        self.byteBudget = byteBudget
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(returned, nil)
    }

    deinit {
        for buffer in free { buffer.deallocate() }
        pthread_cond_destroy(returned)
        pthread_mutex_destroy(mutex)
        returned.deallocate()
        mutex.deallocate()
    }

    /// A buffer of at least `count` bytes (at most `byteBudget`), waiting while the limits are reached; nil once
    /// cancelled.
    func take(_ count: Int) -> UnsafeMutableRawBufferPointer? {
        precondition(count <= byteBudget, "XzBlockBuffers: a block larger than the budget")
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !cancelled {
            if inUse < maximumCount {
                if let index = free.firstIndex(where: { $0.count >= count }) {
                    inUse += 1
                    return free.remove(at: index)
                }
                // Capacity in whole MiB, so that blocks of about the same size reuse each other's buffers.
                let capacity = min(byteBudget, (count + (1 << 20) - 1) & ~((1 << 20) - 1))
                if allocatedBytes + capacity <= byteBudget {
                    allocatedBytes += capacity
                    inUse += 1
                    return .allocate(byteCount: capacity, alignment: 4096)
                }
                if let smallest = free.indices.min(by: { free[$0].count < free[$1].count }) {
                    allocatedBytes -= free[smallest].count
                    free.remove(at: smallest).deallocate()
                    continue
                }
            }
            pthread_cond_wait(returned, mutex)
        }
        return nil
    }

    /// Hands a buffer from `take` back for reuse.
    func give(_ buffer: UnsafeMutableRawBufferPointer) {
        pthread_mutex_lock(mutex)
        free.append(buffer)
        inUse -= 1
        pthread_cond_broadcast(returned)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until every buffer is back (or the set is cancelled); then frees them, for a stretch of work that
    /// needs their memory.
    func drain() {
        pthread_mutex_lock(mutex)
        while !cancelled && inUse > 0 { pthread_cond_wait(returned, mutex) }
        if inUse == 0 {
            for buffer in free { buffer.deallocate() }
            free.removeAll()
            allocatedBytes = 0
        }
        pthread_mutex_unlock(mutex)
    }

    /// Wakes and stops every waiter; `error`, when given, is kept if it is the first one (see `firstError`).
    func cancel(because error: (any Error)? = nil) {
        pthread_mutex_lock(mutex)
        if !cancelled, let error { failure = error }
        cancelled = true
        pthread_cond_broadcast(returned)
        pthread_mutex_unlock(mutex)
    }

    /// The error that cancelled the set, when a worker's failure did.
    var firstError: (any Error)? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return failure
    }

    var isCancelled: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return cancelled
    }
}
