import DiskImportCore
import Foundation
import Logging
import Target
import Testing

@testable import CronController

/// A source stand-in for the state machine's tests: each URL points at a digest (or an HTTP identity), or fails the
/// way a server fails; every poll is counted, with the version it was told of.
final class FakeRegistry: SourcePoller, @unchecked Sendable {
    enum Answer {
        case digest(String)
        case failure(DiskImportError)
    }

    private let lock = NSLock()
    private var answers: [String: Answer] = [:]
    private var pollCount: [String: Int] = [:]
    private var checksums: [String: String] = [:]
    private(set) var previousVersions: [String?] = []

    func push(_ url: String, _ digest: String, checksum: String? = nil) {
        lock.withLock {
            answers[url] = .digest(digest)
            checksums[url] = checksum
        }
    }
    func fail(_ url: String, _ error: DiskImportError) { lock.withLock { answers[url] = .failure(error) } }
    func polls(_ url: String) -> Int { lock.withLock { pollCount[url] ?? 0 } }

    func poll(_ source: CronSource, previous: String?, access: SourceAccess) throws -> SourceVersion {
        let (answer, checksum): (Answer?, String?) = lock.withLock {
            pollCount[source.url, default: 0] += 1
            previousVersions.append(previous)
            return (answers[source.url], checksums[source.url])
        }
        switch answer {
        case .digest(let digest): return SourceVersion(digest: digest, checksum: checksum)
        case .failure(let error): throw error
        case nil: throw DiskImportError(.network, "manifest unknown")
        }
    }
}

/// An importer that writes a small file holding the reference it was asked for, or fails part-way for chosen
/// digests (leaving partial bytes, as a real failure can); it records each request and the peak concurrency.
final class FakeImporter: VolumeImporter, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var requests: [VolumeImportRequest] = []
    private var failing: [String: String] = [:]
    private var running = 0
    private(set) var peakConcurrency = 0
    /// Each import waits (up to 10 s) until this many run at once: a parallel limit shows on a loaded machine too.
    var awaitedConcurrency = 0

    func failImports(of digest: String, with message: String) { lock.withLock { failing[digest] = message } }
    var count: Int { lock.withLock { requests.count } }

    func importVolume(_ request: VolumeImportRequest) throws -> VolumeImportResult {
        let failure: String? = lock.withLock {
            requests.append(request)
            running += 1
            peakConcurrency = max(peakConcurrency, running)
            return failing.first { request.reference.hasSuffix($0.key) }?.value
        }
        defer { lock.withLock { running -= 1 } }
        let deadline = Date().addingTimeInterval(10)
        while lock.withLock({ peakConcurrency < awaitedConcurrency }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        let partial = Data(request.reference.utf8)
        if let failure {
            try partial.prefix(5).write(to: URL(fileURLWithPath: request.targetPath + ".part"))
            throw DiskImportError.corrupt(failure)
        }
        try partial.write(to: URL(fileURLWithPath: request.targetPath))
        return VolumeImportResult(size: UInt64(partial.count))
    }
}

func digest(_ c: Character) -> String { "sha256:" + String(repeating: c, count: 64) }

func time(_ text: String) -> UTCInstant { (try? UTCInstant(rfc3339: text)) ?? UTCInstant(secondsSinceEpoch: 0) }

func makeCron(_ name: String, dataSource: String? = nil, schedule: String? = "0 */12 * * *", url: String? = nil,
              keep: Int = 3, gc: GarbageCollectPolicy = .outdated, retention: RetentionPolicy = .all) -> DataImportCron {
    var cron = DataImportCron(name: name, schedule: schedule.flatMap { try? CronSchedule(parsing: $0) },
                              source: .registry(RegistrySource(url: url ?? "docker://registry.local:5000/\(name):latest")),
                              storage: StorageRequest(size: 1 << 30, sizeText: "1Gi"), managedDataSource: dataSource ?? name)
    cron.importsToKeep = keep
    cron.garbageCollect = gc
    cron.retentionPolicy = retention
    return cron
}

func configOf(_ crons: DataImportCron...) -> CronConfig {
    var config = CronConfig()
    config.crons = crons
    return config
}

/// The controller's progress lines would only be noise in test output.
let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// One controller over a scratch STORAGE with the two fakes.
struct Fixture {
    let storage: ScratchStorage
    let registry = FakeRegistry()
    let importer = FakeImporter()
    let controller: DataImportCronController
    var store: StateStore { controller.store }

    init(parallel: Int = 1) throws {
        storage = try ScratchStorage()
        controller = try DataImportCronController(storage: storage.path, poller: registry, importer: importer,
                                                  secrets: SecretsDirectory(root: nil), parallel: parallel, logger: quietLogger)
    }

    @discardableResult
    func tick(_ config: CronConfig, at now: String) throws -> [CronTickOutcome] {
        let result = try controller.tick(config, now: time(now))
        #expect(result.errors.isEmpty, "\(result.errors)")
        return result.outcomes
    }

    func volumes(of cron: String) throws -> [String] { try store.volumes().filter { $0.cron == cron }.map(\.name).sorted() }
    func condition(_ cron: String, _ type: String) throws -> CronCondition? { try store.cron(cron)?.condition(type) }
}

@Suite struct ReconcileTests {
    let url = "docker://registry.local:5000/fedora:latest"

    @Test func newDigestsImportMoveTheDataSourceAndOldImportsAreCollected() throws {
        let f = try Fixture()
        let cron = makeCron("fedora-cron", dataSource: "fedora", url: url)
        let config = configOf(cron)

        // A: the first tick polls at once (CDI's initial job) and imports.
        f.registry.push(url, digest("a"))
        var outcomes = try f.tick(config, at: "2026-11-23T08:55:00Z")
        #expect(outcomes == [CronTickOutcome(cron: "fedora-cron", polled: true, digest: digest("a"), action: .imported(volume: "fedora-aaaaaaaaaaaa"))])
        let request = try #require(f.importer.requests.first)
        #expect(request.reference == "docker://registry.local:5000/fedora@\(digest("a"))")
        #expect(request.targetPath == "\(f.storage.path)/volumes/fedora-aaaaaaaaaaaa/disk.img")
        #expect(request.sizing.requestedSize == 1 << 30)
        #expect(request.sizing.capacity == 1_132_797_625)   // ceil(1 GiB × 1.055)
        #expect(try String(contentsOfFile: request.targetPath, encoding: .utf8) == request.reference)
        #expect(try f.store.dataSource("fedora") == DataSourceRecord(name: "fedora", cron: "fedora-cron", volume: "fedora-aaaaaaaaaaaa",
                                                                       ready: true, updated: time("2026-11-23T08:55:00Z"),
                                                                       path: request.targetPath, sourceFormat: "pvc"))
        var status = try #require(try f.store.cron("fedora-cron"))
        #expect(status.lastImportedVolume == "fedora-aaaaaaaaaaaa")
        #expect(status.sourceDesiredDigest == digest("a"))
        #expect(status.lastExecutionTimestamp == time("2026-11-23T08:55:00Z"))
        #expect(status.currentImports.isEmpty)
        #expect(status.condition("UpToDate")?.isTrue == true && status.condition("UpToDate")?.reason == "UpToDate")
        #expect(status.condition("Progressing")?.isTrue == false && status.condition("Progressing")?.reason == "NoImport")
        #expect(f.storage.entries("volumes/fedora-aaaaaaaaaaaa") == ["disk.img"])

        // Not due before 12:00; due at 12:00 with no change: a poll but no import.
        outcomes = try f.tick(config, at: "2026-11-23T11:59:00Z")
        #expect(outcomes.first?.polled == false)
        #expect(f.registry.polls(url) == 1)
        outcomes = try f.tick(config, at: "2026-11-23T12:00:00Z")
        #expect(outcomes.first?.polled == true && outcomes.first?.action == .upToDate)
        #expect(f.registry.polls(url) == 2 && f.importer.count == 1)

        // B moves the DataSource; C and D follow; after D only three volumes remain, A (least recently used) gone.
        for (i, c) in ["b", "c", "d"].enumerated() {
            f.registry.push(url, digest(Character(c)))
            let at = "2026-11-\(24 + i)T00:00:00Z"
            outcomes = try f.tick(config, at: at)
            let volume = "fedora-" + String(repeating: c, count: 12)
            #expect(outcomes.first?.action == .imported(volume: volume))
            #expect(try f.store.dataSource("fedora")?.volume == volume)
        }
        #expect(try f.volumes(of: "fedora-cron") == ["fedora-bbbbbbbbbbbb", "fedora-cccccccccccc", "fedora-dddddddddddd"])
        #expect(!FileManager.default.fileExists(atPath: "\(f.storage.path)/volumes/fedora-aaaaaaaaaaaa"))
        #expect(f.importer.count == 4)

        // Back to C, which is still there: reused, not imported again.
        f.registry.push(url, digest("c"))
        outcomes = try f.tick(config, at: "2026-11-27T00:00:00Z")
        #expect(outcomes.first?.action == .reused(volume: "fedora-cccccccccccc"))
        #expect(f.importer.count == 4)
        #expect(try f.store.dataSource("fedora")?.volume == "fedora-cccccccccccc")
        status = try #require(try f.store.cron("fedora-cron"))
        #expect(status.lastImportedVolume == "fedora-cccccccccccc")
        #expect(try f.store.volume("fedora-cccccccccccc")?.lastUse == time("2026-11-27T00:00:00Z"))
    }

    @Test func aFailedImportNeverMovesTheDataSourceAndIsRetried() throws {
        let f = try Fixture()
        let config = configOf(makeCron("fedora-cron", dataSource: "fedora", url: url))
        f.registry.push(url, digest("d"))
        try f.tick(config, at: "2026-11-23T00:00:00Z")

        f.registry.push(url, digest("e"))
        f.importer.failImports(of: digest("e"), with: "qcow2: L1 table lies past the end of the file")
        let outcomes = try f.tick(config, at: "2026-11-23T12:00:00Z")
        #expect(outcomes.first?.action == .failed("qcow2: L1 table lies past the end of the file"))
        #expect(try f.store.dataSource("fedora")?.volume == "fedora-dddddddddddd")
        #expect(try f.store.dataSource("fedora")?.ready == true)
        let upToDate = try #require(try f.condition("fedora-cron", "UpToDate"))
        #expect(!upToDate.isTrue && upToDate.reason == "Outdated")
        #expect(upToDate.message.contains("import of \(digest("e")) failed: qcow2: L1 table lies past the end of the file"))
        #expect(try f.condition("fedora-cron", "Progressing")?.reason == "ImportFailed")
        #expect(try f.store.cron("fedora-cron")?.lastImportedVolume == "fedora-dddddddddddd")
        #expect(try f.store.cron("fedora-cron")?.currentImports == [])
        // Nothing of the failed volume is left.
        #expect(f.storage.entries("volumes") == ["fedora-dddddddddddd"])
        #expect(try f.volumes(of: "fedora-cron") == ["fedora-dddddddddddd"])

        // The next tick retries the pending digest without waiting for the schedule, and succeeds once fixed.
        f.importer.failImports(of: digest("e"), with: "still broken")
        _ = try f.tick(config, at: "2026-11-23T12:05:00Z")
        #expect(f.importer.count == 3)
        #expect(f.registry.polls(url) == 2)
        #expect(try f.store.cron("fedora-cron")?.consecutiveFailures == 2)
    }

    @Test func aRegistryThatIsDownMarksTheCronOutdatedAndIsRetried() throws {
        let f = try Fixture()
        let config = configOf(makeCron("fedora-cron", dataSource: "fedora", url: url))
        f.registry.push(url, digest("a"))
        try f.tick(config, at: "2026-11-23T00:00:00Z")

        f.registry.fail(url, DiskImportError(.network, "connect to registry.local:5000: Connection refused"))
        var outcomes = try f.tick(config, at: "2026-11-23T12:00:00Z")
        #expect(outcomes.first?.action == .failed("connect to registry.local:5000: Connection refused"))
        var upToDate = try #require(try f.condition("fedora-cron", "UpToDate"))
        #expect(!upToDate.isTrue && upToDate.reason == "NoDigest")
        #expect(upToDate.message == "Polling \(url) failed: connect to registry.local:5000: Connection refused")
        #expect(try f.store.dataSource("fedora")?.volume == "fedora-aaaaaaaaaaaa")
        #expect(try f.volumes(of: "fedora-cron") == ["fedora-aaaaaaaaaaaa"])
        #expect(try f.store.cron("fedora-cron")?.lastExecutionTimestamp == time("2026-11-23T00:00:00Z"))

        // Still failing with an auth error: NotAuthorized. Then the registry is back: up to date again.
        f.registry.fail(url, DiskImportError(.auth, "registry.local:5000: 401 Unauthorized"))
        outcomes = try f.tick(config, at: "2026-11-23T12:01:00Z")
        #expect(f.registry.polls(url) == 3)
        upToDate = try #require(try f.condition("fedora-cron", "UpToDate"))
        #expect(upToDate.reason == "NotAuthorized")
        f.registry.push(url, digest("a"))
        outcomes = try f.tick(config, at: "2026-11-23T12:02:00Z")
        #expect(outcomes.first?.action == .upToDate)
        #expect(try f.condition("fedora-cron", "UpToDate")?.isTrue == true)
        #expect(f.importer.count == 1)
    }

    @Test func aDigestThatIsNotSha256IsRefused() throws {
        let f = try Fixture()
        f.registry.push(url, "md5:abc")
        let outcomes = try f.tick(configOf(makeCron("c", url: url)), at: "2026-11-23T00:00:00Z")
        guard case .failed(let message) = outcomes.first?.action else { Issue.record("expected a failure"); return }
        #expect(message.contains("not sha256"))
        #expect(f.importer.count == 0)
    }

    @Test func anInterruptedImportIsCleanedUpAndRedoneWithoutMovingTheDataSource() throws {
        let f = try Fixture()
        let config = configOf(makeCron("fedora-cron", dataSource: "fedora", url: url))
        f.registry.push(url, digest("a"))
        try f.tick(config, at: "2026-11-23T00:00:00Z")

        // What a controller killed while importing B leaves behind: the marker, partial bytes, the import listed.
        let half = "fedora-bbbbbbbbbbbb"
        try f.store.beginImport(half)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: f.store.diskPath(half)))
        var status = try #require(try f.store.cron("fedora-cron"))
        status.currentImports = [ImportStatus(digest: digest("b"), volume: half)]
        status.sourceDesiredDigest = digest("b")
        status.setCondition("Progressing", true, reason: "ImportProgressing", message: "Import is progressing", now: time("2026-11-23T12:00:00Z"))
        try f.store.save(status)
        #expect(try f.store.dataSource("fedora")?.volume == "fedora-aaaaaaaaaaaa")

        // The next tick removes the half-written volume first, then imports B for real.
        f.registry.push(url, digest("b"))
        let outcomes = try f.tick(config, at: "2026-11-23T12:10:00Z")
        #expect(outcomes.first?.action == .imported(volume: half))
        #expect(try String(contentsOfFile: f.store.diskPath(half), encoding: .utf8).hasSuffix(digest("b")))
        #expect(try f.store.halfWrittenVolumes(roots: []).isEmpty)
        #expect(try f.store.dataSource("fedora")?.volume == half)
    }

    @Test func halfWrittenVolumesAreRemovedEvenWhenNothingElseHappens() throws {
        let f = try Fixture()
        try f.store.beginImport("orphan-cccccccccccc")
        try f.tick(configOf(), at: "2026-11-23T00:00:00Z")
        #expect(f.storage.entries("volumes").isEmpty)
    }

    @Test(arguments: [RetentionPolicy.none, RetentionPolicy.all])
    func aDeletedCronKeepsOrLosesItsVolumesByRetentionPolicy(_ retention: RetentionPolicy) throws {
        let f = try Fixture()
        let deleted = makeCron("old-cron", dataSource: "old", url: url, retention: retention)
        let other = makeCron("other-cron", dataSource: "other", url: url + "-other")
        f.registry.push(url, digest("a"))
        f.registry.push(url + "-other", digest("b"))
        try f.tick(configOf(deleted, other), at: "2026-11-23T00:00:00Z")
        #expect(try f.volumes(of: "old-cron") == ["old-aaaaaaaaaaaa"])

        try f.tick(configOf(other), at: "2026-11-23T00:01:00Z")
        #expect(try f.store.cron("old-cron") == nil)
        #expect(try f.volumes(of: "other-cron") == ["other-bbbbbbbbbbbb"])
        if retention == .none {
            #expect(try f.volumes(of: "old-cron").isEmpty)
            #expect(try f.store.dataSource("old") == nil)
            #expect(!f.storage.entries("volumes").contains("old-aaaaaaaaaaaa"))
        } else {
            #expect(try f.volumes(of: "old-cron") == ["old-aaaaaaaaaaaa"])
            #expect(try f.store.dataSource("old")?.volume == "old-aaaaaaaaaaaa")
        }
    }

    @Test func garbageCollectNeverKeepsEverythingAndZeroKeepsOnlyTheCurrent() throws {
        for (gc, keep, expected) in [(GarbageCollectPolicy.never, 1, 4), (.outdated, 0, 1), (.outdated, 2, 2)] {
            let f = try Fixture()
            let config = configOf(makeCron("c", url: url, keep: keep, gc: gc))
            for (i, c) in ["a", "b", "c", "d"].enumerated() {
                f.registry.push(url, digest(Character(c)))
                try f.tick(config, at: "2026-11-2\(i)T00:00:00Z")
            }
            let volumes = try f.volumes(of: "c")
            #expect(volumes.count == expected, "\(gc) keep \(keep)")
            #expect(volumes.contains("c-dddddddddddd"))
        }
    }

    @Test func anEmptyScheduleNeverPolls() throws {
        let f = try Fixture()
        f.registry.push(url, digest("a"))
        let outcomes = try f.tick(configOf(makeCron("c", schedule: nil, url: url)), at: "2026-11-23T00:00:00Z")
        #expect(outcomes.first?.action == .noDigest)
        #expect(f.registry.polls(url) == 0)
        #expect(try f.condition("c", "UpToDate")?.reason == "NoDigest")
        #expect(try f.store.dataSource("c") == DataSourceRecord(name: "c", cron: "c"))
    }

    @Test func cronsRunConcurrentlyUpToTheParallelLimit() throws {
        for parallel in [1, 2] {
            let f = try Fixture(parallel: parallel)
            f.importer.awaitedConcurrency = parallel
            let crons = (1...4).map { makeCron("c\($0)", url: "docker://r/c\($0)") }
            for cron in crons { f.registry.push(cron.source.url, digest("a")) }
            var config = CronConfig()
            config.crons = crons
            let outcomes = try f.tick(config, at: "2026-11-23T00:00:00Z")
            #expect(outcomes.map(\.cron) == ["c1", "c2", "c3", "c4"])
            #expect(outcomes.allSatisfy { if case .imported = $0.action { true } else { false } })
            #expect(f.importer.peakConcurrency == parallel)
        }
    }

    @Test func aSecondControllerOnTheSameStorageIsRefused() throws {
        let f = try Fixture()
        #expect {
            _ = try DataImportCronController(storage: f.storage.path, poller: f.registry, importer: f.importer,
                                             secrets: SecretsDirectory(root: nil))
        } throws: { error in
            (error as? DiskImportError)?.message.contains("in use by another diskimport cron controller") == true
        }
    }

    @Test func aMissingSecretIsNotAuthorizedAndPollsNothing() throws {
        let f = try Fixture()
        var cron = makeCron("c", url: url)
        cron.source.secretRef = "creds"
        let outcomes = try f.tick(configOf(cron), at: "2026-11-23T00:00:00Z")
        guard case .failed(let message) = outcomes.first?.action else { Issue.record("expected a failure"); return }
        #expect(message.contains("no --secrets directory"))
        #expect(f.registry.polls(url) == 0)
    }

    @Test(arguments: [
        (UInt64(10) << 30, "0.055", UInt64(11_327_976_244)),
        (UInt64(10) << 30, "0.06", UInt64(11_381_663_335)),
        (UInt64(1), "0.055", UInt64(1_106_248)),
        (UInt64(1) << 20, "0", UInt64(1) << 20),
        (UInt64(1_536_000), "0.06", UInt64(2_222_982)),
    ])
    func capacityFollowsTheSpaceRules(_ size: UInt64, _ overhead: String, _ expected: UInt64) throws {
        let sizing = try VolumeSizing(requestedSize: size, filesystemOverhead: FilesystemOverhead(parsing: overhead))
        #expect(sizing.capacity == expected)
        // `pvc:` requests are the capacity as written.
        #expect(try VolumeSizing(requestedSize: size, filesystemOverhead: FilesystemOverhead(parsing: overhead),
                                 inflatedByOverhead: false).capacity == size)
    }

    @Test func capacityOverflowIsAnError() throws {
        #expect(throws: DiskImportError.self) { _ = try VolumeSizing(requestedSize: UInt64.max - 5, filesystemOverhead: .standard) }
        #expect(throws: DiskImportError.self) {
            _ = try VolumeSizing(requestedSize: UInt64.max / 4 * 3, filesystemOverhead: FilesystemOverhead(parsing: "0.5"))
        }
    }
}
