import DiskImportCore
import Foundation
import Synchronization
import Testing
@testable import DiskImage

/// Turns at the streaming qcow2 session: blocks are consumed in image order however their workers finish.
///
/// Every call that can block runs on its own thread behind a deadline (`Blocking`): a coordinator that never wakes a
/// waiter fails the test within seconds (the coordinator is then cancelled so the thread ends) instead of hanging
/// the suite, and what the call throws reaches the test.
@Suite struct Qcow2StreamCoordinatorTests {
    /// Far more than any of these waits takes on a loaded machine, far less than CI's patience.
    static let deadline: Double = 10

    final class Skips: @unchecked Sendable {
        private let lock = NSLock()
        private var ends: [UInt64] = []
        func append(_ end: UInt64) { lock.withLock { ends.append(end) } }
        var all: [UInt64] { lock.withLock { ends } }
    }

    struct DeadlinePassed: Error, CustomStringConvertible {
        var description: String
    }

    /// A call into the coordinator running on its own thread.
    final class Blocking<Value: Sendable>: Sendable {
        private let finished = DispatchSemaphore(value: 0)
        private let outcome = Mutex<Result<Value, any Error>?>(nil)
        private let coordinator: Qcow2StreamCoordinator
        private let what: String

        init(_ what: String, on coordinator: Qcow2StreamCoordinator, _ body: @escaping @Sendable () throws -> Value) {
            self.what = what
            self.coordinator = coordinator
            let thread = Thread { [self] in
                let result = Result { try body() }
                outcome.withLock { $0 = result }
                finished.signal()
            }
            thread.start()
        }

        var hasFinished: Bool { outcome.withLock { $0 != nil } }

        /// What the call returned or threw, once it has ended; one still blocked after `seconds` throws
        /// `DeadlinePassed` (after cancelling the coordinator, which ends the call).
        func value(within seconds: Double = Qcow2StreamCoordinatorTests.deadline) throws -> Value {
            guard finished.wait(timeout: .now() + seconds) == .success else {
                coordinator.cancel(because: DiskImportError.corrupt("the test's deadline passed"))
                _ = finished.wait(timeout: .now() + seconds)
                throw DeadlinePassed(description: "\(what) still blocked after \(seconds) s")
            }
            finished.signal()   // later calls return at once
            return try outcome.withLock { $0! }.get()
        }
    }

    @Test func blocksDoneOutOfOrderAreSkippedInOrder() throws {
        let shared = Qcow2StreamCoordinator()
        for start in stride(from: UInt64(0), to: 400, by: 100) { shared.register(start..<start + 100) }
        let tickets = (0..<4).map { shared.claimTicket(startingAt: UInt64($0) * 100) }
        #expect(tickets == [0, 1, 2, 3])
        let skips = Skips()
        // The later blocks finish first: nothing is consumed until the first one is done.
        try shared.complete(ticket: 2, holdingSession: false) { skips.append($0) }
        try shared.complete(ticket: 1, holdingSession: false) { skips.append($0) }
        #expect(skips.all.isEmpty)
        try shared.complete(ticket: 0, holdingSession: false) { skips.append($0) }
        #expect(skips.all == [100, 200, 300])
        // Block 3 is at the front now: its worker gets the session without waiting, and releases it when done.
        try Blocking("takeSession(ticket: 3)", on: shared) { try shared.takeSession(ticket: 3) }.value()
        try shared.complete(ticket: 3, holdingSession: true) { skips.append($0) }
        #expect(skips.all == [100, 200, 300, 400])
        try Blocking("takeIdleSession()", on: shared) { try shared.takeIdleSession() }.value()
        shared.releaseIdleSession()
    }

    @Test func emptyBlocksGetTheirOwnTickets() {
        let shared = Qcow2StreamCoordinator()
        shared.register(0..<0)
        shared.register(0..<0)
        shared.register(0..<64)
        #expect([0, 0, 0].map { shared.claimTicket(startingAt: $0) } == [0, 1, 2])
    }

    @Test func aWaitingWorkerWakesWhenTheMapChangesOrItsTurnComes() throws {
        let shared = Qcow2StreamCoordinator()
        shared.register(0..<100)
        shared.register(100..<200)
        let version = shared.withMap { _, version in version }
        let first = Blocking("waitForMapChange(after: \(version))", on: shared) { try shared.waitForMapChange(after: version, ticket: 1) }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(!first.hasFinished, "woke before the map changed")
        shared.mapChanged()
        #expect(try first.value() == .mapChanged)

        let second = Blocking("waitForMapChange(after: \(version &+ 1))", on: shared) {
            try shared.waitForMapChange(after: version &+ 1, ticket: 1)
        }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(!second.hasFinished, "woke before its turn")
        try shared.complete(ticket: 0, holdingSession: false) { _ in }
        #expect(try second.value() == .sessionTaken)
    }

    @Test func cancellingStopsWaitersWithTheFirstError() throws {
        let shared = Qcow2StreamCoordinator()
        shared.register(0..<100)
        shared.register(100..<200)
        let waiter = Blocking("takeSession(ticket: 1)", on: shared) { try shared.takeSession(ticket: 1) }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(!waiter.hasFinished, "took the session before block 0 was consumed")
        shared.cancel(because: DiskImportError.corrupt("first"))
        shared.cancel(because: DiskImportError.corrupt("second"))
        let error = #expect(throws: DiskImportError.self) { try waiter.value() }
        #expect(error.map { "\($0)" }?.contains("first") == true, "\(String(describing: error))")
    }

    /// The deadline itself: a waiter nobody wakes (block 0 is never completed) fails the test at the deadline, and
    /// the cancel that follows ends its thread, so a broken coordinator costs seconds, not CI's 90 minutes.
    @Test func aWaiterNobodyWakesFailsAtTheDeadline() throws {
        let shared = Qcow2StreamCoordinator()
        shared.register(0..<100)
        shared.register(100..<200)
        let started = Date()
        let waiter = Blocking("takeSession(ticket: 1)", on: shared) { try shared.takeSession(ticket: 1) }
        let error = #expect(throws: DeadlinePassed.self) { try waiter.value(within: 0.2) }
        #expect(error?.description == "takeSession(ticket: 1) still blocked after 0.2 s")
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(waiter.hasFinished, "the cancel did not end the blocked call")
    }
}
