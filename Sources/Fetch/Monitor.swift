import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A mutex with one condition variable (pthread_mutex_t + pthread_cond_t): the producer and consumer of a bounded
/// queue wait on it for space or data. Swift's `Mutex` has no condition variable.
public final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` holding the mutex.
    public func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a broadcast (pthread_cond_wait); call only inside `locked`, and re-check the condition after.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits for a broadcast or until `seconds` pass (pthread_cond_timedwait on CLOCK_MONOTONIC); inside `locked`.
    public func wait(seconds: Double) {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let whole = Int(seconds)
        deadline.tv_sec += whole
        deadline.tv_nsec += Int((seconds - Double(whole)) * 1e9)
        if deadline.tv_nsec >= 1_000_000_000 {
            deadline.tv_sec += 1
            deadline.tv_nsec -= 1_000_000_000
        }
        pthread_cond_timedwait(condition, mutex, &deadline)
    }

    /// Wakes every waiter (pthread_cond_broadcast); call inside `locked`.
    public func broadcast() { pthread_cond_broadcast(condition) }
}

/// Seconds on CLOCK_MONOTONIC, for stall detection and back-off.
public enum Monotonic {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// nanosleep(2) for `seconds`.
    public static func sleep(_ seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var left = timespec()
        while nanosleep(&request, &left) != 0 && errno == EINTR { request = left }
    }
}

/// A joinable thread running one object's `run()` (pthread_create with an Unmanaged context: a capturing closure
/// cannot be a C function pointer).
public final class WorkerThread {
    private var thread = pthread_t()
    private var joined = false

    /// Something a worker thread runs.
    public protocol Job: AnyObject { func run() }

    public init(_ job: Job) throws {
        final class Box { let job: Job; init(_ job: Job) { self.job = job } }
        let context = Unmanaged.passRetained(Box(job)).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            box.job.run()
            return nil
        }, context)
        if status != 0 {
            Unmanaged<Box>.fromOpaque(context).release()
            throw DiskImportError.io("pthread_create", "for a transfer thread", Errno(rawValue: status))
        }
    }

    /// Waits for the thread to end (pthread_join); later calls return at once.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    deinit { join() }
}
