import DiskImportCore
import Foundation
import Testing

@testable import CronController

@Suite struct CronRunnerTests {
    let url = "docker://registry.local:5000/fedora:latest"

    @Test func wakesAtTheNextScheduledPollOrSoonerForARetry() throws {
        let config = configOf(makeCron("a", schedule: "55 8/12 * * *"), makeCron("b", schedule: "0 0 * * *"), makeCron("never", schedule: nil))
        let now = time("2026-11-23T09:00:00Z")
        var a = CronStatusRecord(name: "a", managedDataSource: "a", retentionPolicy: .all)
        a.lastExecutionTimestamp = time("2026-11-23T08:55:00Z")
        var b = CronStatusRecord(name: "b", managedDataSource: "b", retentionPolicy: .all)
        b.lastExecutionTimestamp = time("2026-11-23T00:00:00Z")
        #expect(CronRunner.nextWake(config, statuses: [a, b], now: now) == time("2026-11-23T20:55:00Z"))

        // Three failures in a row: retry 120 s after the last attempt.
        b.consecutiveFailures = 3
        b.lastAttempt = time("2026-11-23T09:00:00Z")
        #expect(CronRunner.nextWake(config, statuses: [a, b], now: now) == time("2026-11-23T09:02:00Z"))
        // Many failures: at most 15 minutes.
        b.consecutiveFailures = 40
        #expect(CronRunner.nextWake(config, statuses: [a, b], now: now) == time("2026-11-23T09:15:00Z"))
        // A failed poll leaves the cron overdue; it is retried after the backoff, not at once.
        var overdue = a
        overdue.lastExecutionTimestamp = time("2026-11-22T20:55:00Z")
        overdue.lastAttempt = now
        overdue.consecutiveFailures = 1
        #expect(CronRunner.nextWake(config, statuses: [overdue, b], now: now) == time("2026-11-23T09:00:30Z"))
        // A cron that never polled is due now.
        #expect(CronRunner.nextWake(config, statuses: [a], now: now) == now)
        // Only an empty schedule: nothing to wake for.
        #expect(CronRunner.nextWake(configOf(makeCron("never", schedule: nil)), statuses: [], now: now) == nil)
    }

    @Test func runTicksSleepsUntilDueAndRereadsTheConfiguration() throws {
        let f = try Fixture()
        let path = "\(f.storage.path)/crons.yaml"
        func writeConfig(schedule: String) throws {
            try """
                - metadata: {name: fedora-cron}
                  spec:
                    schedule: "\(schedule)"
                    managedDataSource: fedora
                    template: {spec: {source: {registry: {url: "\(url)"}}}}
                """.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try writeConfig(schedule: "55 8/12 * * *")
        f.registry.push(url, digest("a"))
        var clock = time("2026-11-23T09:00:00Z")
        var sleeps: [Int64] = []
        var ticks = 0
        try CronRunner(controller: f.controller, configPath: path, logger: quietLogger).run(
            initial: try CronConfigLoader.load(path: path),
            clock: { clock },
            sleep: { seconds in
                sleeps.append(seconds)
                clock = clock.adding(seconds: seconds)
                if sleeps.count == 1 {
                    // The configuration changes while the controller sleeps; the next sleep follows the new schedule.
                    try? writeConfig(schedule: "0 0 * * *")
                    f.registry.push(url, digest("b"))
                }
            },
            shouldStop: { ticks += 1; return ticks == 3 })
        // Tick 1 at 09:00 (initial poll, imports A), sleep to 20:55. The configuration re-read then says "0 0 * * *",
        // so tick 2 at 20:55 is not due and the runner sleeps to midnight, where tick 3 polls B and imports it.
        let expectedSleeps: [Int64] = [11 * 3600 + 55 * 60, 3 * 3600 + 5 * 60]
        #expect(sleeps == expectedSleeps)
        let imported = f.importer.requests.map { String($0.reference.suffix(8)) }
        #expect(imported == ["aaaaaaaa", "bbbbbbbb"])
        #expect(try f.store.dataSource("fedora")?.volume == "fedora-bbbbbbbbbbbb")
        #expect(f.registry.polls(url) == 2)
    }
}

@Suite struct CronStatusReportTests {
    @Test func jsonCarriesTheDocumentedNamesAndTheTableTheState() throws {
        let f = try Fixture()
        let url = "docker://registry.local:5000/fedora:latest"
        let cron = makeCron("fedora-cron", dataSource: "fedora", url: url)
        f.registry.push(url, digest("a"))
        try f.tick(configOf(cron, makeCron("gone", url: "docker://r/gone")), at: "2026-11-23T08:55:00Z")
        f.registry.fail(url, DiskImportError(.network, "connection refused"))
        try f.tick(configOf(cron), at: "2026-11-23T12:00:00Z")
        // A cron whose status exists but that is no longer configured shows up as deleted until a tick cleans it.
        try f.store.save(CronStatusRecord(name: "old", managedDataSource: "old", retentionPolicy: .all))

        let report = try CronStatusReport(config: configOf(cron), store: f.store, now: time("2026-11-23T12:30:00Z"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().rendered().utf8)) as? [String: Any])
        let crons = try #require(json["crons"] as? [[String: Any]])
        #expect(crons.map { $0["name"] as? String } == ["fedora-cron", "old"])
        let first = crons[0]
        #expect(first["lastImportedVolume"] as? String == "fedora-aaaaaaaaaaaa")
        #expect(first["desiredDigest"] as? String == digest("a"))
        #expect(first["outdated"] as? Int == 1)
        // The failed poll at 12:00 left the cron overdue: its next poll is now.
        #expect(first["nextPoll"] as? String == "2026-11-23T12:30:00Z")
        #expect(crons[1]["configured"] as? Bool == false)
        let conditions = try #require(first["conditions"] as? [[String: Any]])
        let upToDate = try #require(conditions.first { $0["type"] as? String == "UpToDate" })
        #expect(upToDate["status"] as? String == "False")
        #expect(upToDate["reason"] as? String == "NoDigest")
        #expect((upToDate["message"] as? String)?.contains("connection refused") == true)
        let dataSources = try #require(json["dataSources"] as? [[String: Any]])
        let fedora = try #require(dataSources.first { $0["name"] as? String == "fedora" })
        #expect(fedora["volume"] as? String == "fedora-aaaaaaaaaaaa")
        #expect(fedora["ready"] as? Bool == true)
        let volumes = try #require(json["volumes"] as? [[String: Any]])
        let volume = try #require(volumes.first { $0["name"] as? String == "fedora-aaaaaaaaaaaa" })
        #expect(volume["cron"] as? String == "fedora-cron")
        #expect(volume["digest"] as? String == digest("a"))
        #expect(volume["lastUse"] as? String == "2026-11-23T08:55:00Z")

        let table = report.table()
        #expect(table.contains("fedora-cron"))
        #expect(table.contains("old (deleted)"))
        #expect(table.contains("Polling \(url) failed: connection refused"))
        #expect(table.contains("fedora-aaaaaaaaaaaa"))
        let metric = report.outdatedMetric()
        #expect(metric.contains("kubevirt_cdi_dataimportcron_outdated{cron_name=\"fedora-cron\",namespace=\"\",pending=\"false\"} 1"))
        #expect(!metric.contains("cron_name=\"old\""))
    }
}
