import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// What the streaming qcow2 session and the xz block workers placing clusters ahead of it (`Qcow2BlockPlacer`)
/// share, under one lock: the map of what is known about clusters the session has not reached, and whose turn it is
/// to use the session.
///
/// Blocks are registered in image order and get a ticket each. The session consumes the image in that order: a block
/// a worker placed completely is skipped over; a worker that meets something only the session can handle waits for
/// its block's turn (every earlier block consumed) and feeds the rest of its block to the session. Whoever finishes
/// the block at the front hands the session on. A worker waiting for a mapping wakes when the map changes.
/// Nothing waits on a later block, so there is no deadlock as long as blocks are decoded in ticket order (FIFO).
final class Qcow2StreamCoordinator: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`:
    private var map = Qcow2StreamMap()
    private var version: UInt64 = 0
    /// Registered blocks the session has not consumed yet: ticket -> (image offsets, a worker has it, placed completely).
    private var blocks: [Int: (range: Range<UInt64>, claimed: Bool, done: Bool)] = [:]
    private var front = 0
    private var nextTicket = 0
    private var sessionBusy = false
    private var cancelled = false
    private var failure: (any Error)?

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    // MARK: - The map

    /// Runs `body` on the map, under the lock; `version` counts the changes announced with `mapChanged`.
    func withMap<T>(_ body: (inout Qcow2StreamMap, _ version: UInt64) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&map, version)
    }

    /// Wakes the workers waiting for a mapping: new ones are in the map.
    func mapChanged() {
        pthread_mutex_lock(mutex)
        version &+= 1
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    // MARK: - Turns at the session

    /// Enters the next block, image offsets `range`; blocks must be registered in image order.
    func register(_ range: Range<UInt64>) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        blocks[nextTicket] = (range, false, false)
        nextTicket += 1
    }

    /// Claims the ticket of the first unclaimed block starting at image offset `start` (blocks are decoded in the
    /// order they were registered, and empty blocks share their start with the next).
    func claimTicket(startingAt start: UInt64) -> Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var ticket = front
        while let block = blocks[ticket], block.claimed || block.range.lowerBound != start { ticket += 1 }
        precondition(blocks[ticket] != nil, "qcow2 stream: no block registered at \(start)")
        blocks[ticket]!.claimed = true
        return ticket
    }

    /// What ended a wait for a mapping.
    enum Wake {
        case mapChanged
        /// Every earlier block is consumed and the session is now the caller's (release it with `complete`).
        case sessionTaken
    }

    /// Waits until the map changes from `version`, or until it is `ticket`'s turn at the session (which it then takes).
    func waitForMapChange(after version: UInt64, ticket: Int) throws -> Wake {
        try wait(ticket: ticket) { self.version != version } ? .sessionTaken : .mapChanged
    }

    /// Waits for `ticket`'s turn at the session and takes it.
    func takeSession(ticket: Int) throws {
        _ = try wait(ticket: ticket) { false }
    }

    /// Waits until `ticket` may take the session (true: taken) or `stopWaiting` holds (false). Called unlocked.
    private func wait(ticket: Int, until stopWaiting: () -> Bool) throws -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if cancelled { throw failure ?? Self.stopped }
            if front == ticket && !sessionBusy {
                sessionBusy = true
                return true
            }
            if stopWaiting() { return false }
            pthread_cond_wait(condition, mutex)
        }
    }

    /// Takes the session once every registered block is consumed (the reader decodes a block itself).
    func takeIdleSession() throws {
        _ = try wait(ticket: nextTicket) { false }
    }

    /// Gives back the session taken with `takeIdleSession` (no ticket was registered meanwhile).
    func releaseIdleSession() {
        pthread_mutex_lock(mutex)
        sessionBusy = false
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Marks `ticket`'s block as done. When it is the session's turn for it (or the caller holds the session), the
    /// session consumes it and every done block after it: `skip(end)` moves the session past a block placed by a
    /// worker. Then the session is handed on.
    func complete(ticket: Int, holdingSession: Bool, skip: (UInt64) throws -> Void) throws {
        pthread_mutex_lock(mutex)
        blocks[ticket]?.done = true
        if !holdingSession {
            guard front == ticket && !sessionBusy && !cancelled else {
                pthread_mutex_unlock(mutex)
                return
            }
            sessionBusy = true
        }
        while let block = blocks[front], block.done {
            blocks[front] = nil
            front += 1
            pthread_mutex_unlock(mutex)
            do {
                try skip(block.range.upperBound)
            } catch {
                cancel(because: error)
                throw error
            }
            pthread_mutex_lock(mutex)
        }
        sessionBusy = false
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Stops every waiter: they throw `error` (the first one given) or `stopped`.
    func cancel(because error: (any Error)?) {
        pthread_mutex_lock(mutex)
        if !cancelled, let error { failure = error }
        cancelled = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The error that cancelled the work, when one did.
    var firstError: (any Error)? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return failure
    }

    /// What a waiter throws when it stops because of another thread's failure: never the error reported.
    static let stopped = DiskImportError(.io, "qcow2 stream: stopped after an earlier failure")
}
