import DiskImportCore
import Foundation
import Testing

@testable import CronController

/// A temporary STORAGE directory, removed at the end of the test.
final class ScratchStorage {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cron-storage-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func entries(_ relative: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(path)/\(relative)")) ?? []).sorted()
    }
}

private let t0 = UTCInstant(secondsSinceEpoch: 1_795_000_000)

@Suite struct StateStoreTests {
    @Test func recordsRoundTripAndAreReplacedAtomically() throws {
        let storage = try ScratchStorage()
        let store = StateStore(root: storage.path)
        try store.prepare()
        var cron = CronStatusRecord(name: "fedora-cron", managedDataSource: "fedora", retentionPolicy: .none)
        cron.setCondition(CronConditionType.upToDate, false, reason: CronReason.noDigest, message: "No source digest", now: t0)
        cron.currentImports = [ImportStatus(digest: "sha256:" + String(repeating: "a", count: 64), volume: "fedora-aaaaaaaaaaaa")]
        cron.lastExecutionTimestamp = t0
        try store.save(cron)
        #expect(try store.cron("fedora-cron") == cron)

        cron.setCondition(CronConditionType.upToDate, true, reason: CronReason.upToDate, message: "Latest import is up to date",
                          now: t0.adding(seconds: 60))
        try store.save(cron)
        let reloaded = try #require(try store.cron("fedora-cron"))
        #expect(reloaded.condition(CronConditionType.upToDate)?.lastTransitionTime == t0.adding(seconds: 60))
        #expect(reloaded.outdatedGaugeValue == 0)
        // No temporary files are left beside the record.
        #expect(storage.entries("state/crons") == ["fedora-cron.json"])

        let ds = DataSourceRecord(name: "fedora", cron: "fedora-cron", volume: "fedora-aaaaaaaaaaaa", ready: true, updated: t0)
        try store.save(ds)
        #expect(try store.dataSources() == [ds])
        let volume = VolumeRecord(name: "fedora-aaaaaaaaaaaa", cron: "fedora-cron", dataSource: "fedora", digest: "sha256:aa",
                                  source: "docker://r/f@sha256:aa", created: t0, lastUse: t0, path: store.diskPath("fedora-aaaaaaaaaaaa"))
        try store.save(volume)
        #expect(try store.volumes() == [volume])
        let json = try String(contentsOfFile: "\(storage.path)/state/crons/fedora-cron.json", encoding: .utf8)
        #expect(json.contains("\"lastExecutionTimestamp\" : \"2026-11-18T"))
    }

    @Test func conditionTransitionTimeOnlyMovesWhenStatusChanges() {
        var cron = CronStatusRecord(name: "c", managedDataSource: "d", retentionPolicy: .all)
        cron.setCondition("UpToDate", false, reason: "NoDigest", message: "a", now: t0)
        cron.setCondition("UpToDate", false, reason: "Outdated", message: "b", now: t0.adding(seconds: 5))
        #expect(cron.condition("UpToDate")?.lastTransitionTime == t0)
        #expect(cron.condition("UpToDate")?.lastHeartbeatTime == t0.adding(seconds: 5))
        #expect(cron.condition("UpToDate")?.reason == "Outdated")
        #expect(cron.outdatedGaugeValue == 1)
        cron.setCondition("UpToDate", true, reason: "UpToDate", message: "c", now: t0.adding(seconds: 9))
        #expect(cron.condition("UpToDate")?.lastTransitionTime == t0.adding(seconds: 9))
        #expect(cron.conditions.count == 1)
    }

    @Test func damagedStateIsAClearError() throws {
        let storage = try ScratchStorage()
        let store = StateStore(root: storage.path)
        try store.prepare()
        try "{\"name\": 5}".write(toFile: "\(storage.path)/state/crons/x.json", atomically: true, encoding: .utf8)
        #expect {
            _ = try store.crons()
        } throws: { error in
            let message = (error as? DiskImportError)?.message ?? ""
            return message.contains("state file \(storage.path)/state/crons/x.json is damaged")
        }
    }

    @Test func importMarkersAndVolumeRemoval() throws {
        let storage = try ScratchStorage()
        let store = StateStore(root: storage.path)
        try store.prepare()
        try store.beginImport("a-111111111111")
        try store.beginImport("b-222222222222")
        try store.finishImport("b-222222222222")
        #expect(try store.halfWrittenVolumes(roots: []).map(\.name) == ["a-111111111111"])
        try Data("x".utf8).write(to: URL(fileURLWithPath: store.diskPath("a-111111111111")))
        try store.removeVolume("a-111111111111")
        #expect(storage.entries("volumes") == ["b-222222222222"])
        #expect(try store.halfWrittenVolumes(roots: []).isEmpty)
    }

    @Test func oneControllerPerStorageDirectory() throws {
        let storage = try ScratchStorage()
        var first: StorageLock? = try StorageLock(storage: storage.path)
        #expect(first != nil)
        #expect {
            _ = try StorageLock(storage: storage.path)
        } throws: { error in
            let message = (error as? DiskImportError)?.message ?? ""
            return message.contains("in use by another diskimport cron controller (pid \(getpid()))")
        }
        first = nil
        #expect(throws: Never.self) { _ = try StorageLock(storage: storage.path) }
    }
}
