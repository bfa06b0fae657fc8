import DiskImportCore
import Foundation
import Synchronization
import Testing
@testable import DiskImage

/// Turns at the streaming qcow2 session: blocks are consumed in image order however their workers finish.
@Suite struct Qcow2StreamCoordinatorTests {
    final class Skips: @unchecked Sendable {
        private let lock = NSLock()
        private var ends: [UInt64] = []
        func append(_ end: UInt64) { lock.withLock { ends.append(end) } }
        var all: [UInt64] { lock.withLock { ends } }
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
        try shared.takeSession(ticket: 3)
        try shared.complete(ticket: 3, holdingSession: true) { skips.append($0) }
        #expect(skips.all == [100, 200, 300, 400])
        try shared.takeIdleSession()
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
        let wakes = Mutex<[Qcow2StreamCoordinator.Wake]>([])
        let waiter = Thread {
            let first = try? shared.waitForMapChange(after: version, ticket: 1)
            let second = try? shared.waitForMapChange(after: version &+ 1, ticket: 1)
            wakes.withLock { $0 = [first, second].compactMap { $0 } }
        }
        waiter.start()
        Thread.sleep(forTimeInterval: 0.05)
        shared.mapChanged()
        Thread.sleep(forTimeInterval: 0.05)
        try shared.complete(ticket: 0, holdingSession: false) { _ in }
        while wakes.withLock({ $0.count }) < 2 { Thread.sleep(forTimeInterval: 0.01) }
        #expect(wakes.withLock { $0 } == [.mapChanged, .sessionTaken])
    }

    @Test func cancellingStopsWaitersWithTheFirstError() throws {
        let shared = Qcow2StreamCoordinator()
        shared.register(0..<100)
        shared.register(100..<200)
        let outcome = Mutex<String?>(nil)
        let waiter = Thread {
            do {
                try shared.takeSession(ticket: 1)
                outcome.withLock { $0 = "taken" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        waiter.start()
        Thread.sleep(forTimeInterval: 0.05)
        shared.cancel(because: DiskImportError.corrupt("first"))
        shared.cancel(because: DiskImportError.corrupt("second"))
        while outcome.withLock({ $0 }) == nil { Thread.sleep(forTimeInterval: 0.01) }
        #expect(outcome.withLock { $0 }?.contains("first") == true)
    }
}
