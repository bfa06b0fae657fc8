import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// A few POSIX threads that run jobs from a bounded queue. The producer blocks while the queue is full, so
/// memory stays bounded however fast it plans; the first error stops every worker and is rethrown to the producer.
///
/// Each thread builds its own worker (`makeWorker`, called on that thread) to hold per-thread buffers and
/// decoder contexts.
final class WorkerPool<Job: Sendable>: @unchecked Sendable {
    typealias Worker = (Job) throws -> Void

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let jobAvailable = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let spaceAvailable = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Job?] = []
    private var head = 0
    private let capacity: Int
    private var closed = false
    private var failure: Error?
    private var threads: [pthread_t] = []
    private let makeWorker: @Sendable () -> Worker

    /// The number of worker threads worth starting here: twice the online CPUs, at most 8. A worker spends part
    /// of its time blocked in pwrite (page cache allocation, the inode lock), so one per CPU leaves CPUs idle.
    static var defaultThreadCount: Int {
        if let n = MeasurementKnob.positiveInteger("DISKIMPORT_QCOW2_THREADS") { return min(n, 64) }
        return max(2, min(8, 2 * sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Starts `threads` workers; `queueDepth` jobs may wait.
    init(threads count: Int, queueDepth: Int, makeWorker: @escaping @Sendable () -> Worker) throws {
        capacity = max(1, queueDepth)
        self.makeWorker = makeWorker
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(jobAvailable, nil)
        pthread_cond_init(spaceAvailable, nil)
        for _ in 0..<max(1, count) {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(ThreadStart { [self] in runWorker() }).toOpaque()
            let rc = pthread_create(&thread, nil, { raw in
                Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, context)
            if rc != 0 {
                Unmanaged<ThreadStart>.fromOpaque(context).release()
                _ = try? finish()
                throw DiskImportError(.io, "pthread_create: \(String(cString: strerror(rc)))")
            }
            threads.append(thread)
        }
    }

    deinit {
        pthread_cond_destroy(jobAvailable)
        pthread_cond_destroy(spaceAvailable)
        pthread_mutex_destroy(mutex)
        jobAvailable.deallocate()
        spaceAvailable.deallocate()
        mutex.deallocate()
    }

    /// Queues `job`, waiting while the queue is full; throws the first worker error instead once there is one.
    func submit(_ job: Job) throws {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while failure == nil && queue.count - head >= capacity { pthread_cond_wait(spaceAvailable, mutex) }
        if let failure { throw failure }
        if head > 64 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        queue.append(job)
        pthread_cond_signal(jobAvailable)
    }

    /// Records `error` as the pool's failure (the first one wins) and wakes everyone so they stop.
    func fail(_ error: Error) {
        pthread_mutex_lock(mutex)
        if failure == nil { failure = error }
        pthread_cond_broadcast(jobAvailable)
        pthread_cond_broadcast(spaceAvailable)
        pthread_mutex_unlock(mutex)
    }

    /// Lets the workers finish the queued jobs, joins them, and throws the first error any of them hit.
    func finish() throws {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(jobAvailable)
        pthread_mutex_unlock(mutex)
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
        pthread_mutex_lock(mutex)
        let error = failure
        pthread_mutex_unlock(mutex)
        if let error { throw error }
    }

    private func nextJob() -> Job? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while failure == nil && !closed && head == queue.count { pthread_cond_wait(jobAvailable, mutex) }
        guard failure == nil, head < queue.count else { return nil }
        let job = queue[head]
        queue[head] = nil
        head += 1
        pthread_cond_signal(spaceAvailable)
        return job
    }

    private func runWorker() {
        let work = makeWorker()
        while let job = nextJob() {
            do {
                try work(job)
            } catch {
                fail(error)
                return
            }
        }
    }
}

/// What a new thread runs: a non-generic box, because a C function pointer cannot capture generic context.
private final class ThreadStart {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}
