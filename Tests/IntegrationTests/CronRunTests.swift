import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The controller as a process: killed with SIGKILL in the middle of an import, and `cron run` serving its
/// gauge on `--metrics-port`.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct CronRunTests {
    @Test func aControllerKilledDuringAnImportIsCleanedUpAndFinishedByTheNextTick() throws {
        let world = try CronWorld("killed")
        let disk = try world.makeDisk("K", size: 3 << 20)
        let digest = try world.push("k", disk: disk)
        // The import goes through a proxy that stalls every connection after 256 KiB from the registry: the
        // manifest HEAD and GET pass, the layer's blob hangs part-way, with bytes already written.
        let proxy = try FaultProxy(world.registry.fixtures, target: try world.registry.fixtures["REG_BASIC_PORT"],
                                   ["--stall-after", "262144", "--stalls", "1000"])
        defer { withExtendedLifetime(proxy) {} }
        try world.writeConfig(world.cronYAML(url: try world.url(port: String(proxy.port))))

        let volume = world.volume(digest)
        try killTickMidImport(world, volume: volume)

        // Killed mid-import: the DataSource never moved.
        var status = try world.status()
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool != true)
        #expect(status.volumeNames.isEmpty)
        #expect(status.cron(world.cron)?["desiredDigest"] as? String == digest)

        // The next tick (the registry reachable again) removes the half-written volume and imports it whole. Not
        // due again at the same time, it imports the digest it already polled.
        try world.writeConfig(world.cronYAML(url: try world.url()))
        let tick = try world.tick("2026-11-23T00:00:00Z")
        #expect(tick.status == 0, "\(tick.stderr)")
        #expect(tick.stderr.contains("removing half-written volume \(volume)"), "\(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron): imported \(volume)"), "\(tick.stdout)")
        status = try world.status()
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == volume)
        #expect(status.condition(world.cron, "UpToDate")?.status == "True")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(world.storage)/volumes/\(volume)") == ["disk.img"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(volume))).prefix(disk.count) == disk)
    }

    @Test func cronRunServesTheOutdatedGauge() throws {
        let world = try CronWorld("metrics")
        try world.push("a", disk: try world.makeDisk("A"))
        let down = "docker://127.0.0.1:\(try freeLoopbackPort())/containerdisks/absent:latest"
        try world.writeConfig(world.cronYAML(url: try world.url()) + """

            ---
            apiVersion: cdi.kubevirt.io/v1beta1
            kind: DataImportCron
            metadata: {name: unreachable-cron, namespace: golden-images}
            spec:
              schedule: "0 0 * * *"
              managedDataSource: unreachable
              template: {spec: {source: {registry: {url: "\(down)"}}}}
            ---
            apiVersion: cdi.kubevirt.io/v1beta1
            kind: DataImportCron
            metadata: {name: http-cron, namespace: golden-images}
            spec:
              schedule: "0 0 * * *"
              managedDataSource: from-http
              template:
                spec:
                  source: {http: {url: "https://127.0.0.1:\(try world.registry.fixtures["FILES_PORT"])/disk.qcow2", certConfigMap: registry-ca}}
                  storage: {resources: {requests: {storage: 8Mi}}}
            """)
        let port = try freeLoopbackPort()
        let controller = try startProcess(Harness.binary, ["cron", "run", "--config", world.configPath, "--storage", world.storage,
                                                           "--secrets", world.secrets, "--metrics-port", String(port), "--parallel", "2"])
        // SIGKILL: the test runner's children inherit a blocked SIGTERM.
        defer { if controller.isRunning { kill(controller.processIdentifier, SIGKILL); controller.waitUntilExit() } }

        // Scrape until the first tick's import is done.
        /// The sample of `cron` (labels in any order), or nil.
        func sample(_ cron: String, in text: String) -> Double? {
            for line in text.split(separator: "\n") where line.hasPrefix("kubevirt_cdi_dataimportcron_outdated{") {
                let labels = ["cron_name=\"\(cron)\"", "namespace=\"golden-images\"", "pending=\"false\""]
                if labels.allSatisfy({ line.contains($0) }), let value = line.split(separator: " ").last { return Double(value) }
            }
            return nil
        }
        var scraped = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && controller.isRunning {
            let scrape = try Harness.run("curl", ["-sk", "--max-time", "2", "https://127.0.0.1:\(port)/metrics"])
            scraped = scrape.stdout
            if sample(world.cron, in: scraped) == 0 && sample("unreachable-cron", in: scraped) == 1
                && sample("http-cron", in: scraped) == 0 { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(controller.isRunning)
        #expect(scraped.contains("# TYPE kubevirt_cdi_dataimportcron_outdated gauge"), "\(scraped)")
        #expect(sample(world.cron, in: scraped) == 0, "\(scraped)")
        #expect(sample("unreachable-cron", in: scraped) == 1, "\(scraped)")
        #expect(sample("http-cron", in: scraped) == 0, "\(scraped)")
    }
}

/// Runs `cron tick` at 2026-11-23T00:00:00Z and kills it with SIGKILL once the import into `volume` is under way (its
/// marker there, and target bytes beside it).
func killTickMidImport(_ world: some CronDirectories, volume: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let marker = "\(world.storage)/volumes/\(volume)/.importing"
    let controller = try startProcess(Harness.binary, ["cron", "tick", "--config", world.configPath, "--storage", world.storage,
                                                       "--secrets", world.secrets, "--now", "2026-11-23T00:00:00Z"])
    defer { if controller.isRunning { kill(controller.processIdentifier, SIGKILL) } }
    let deadline = Date().addingTimeInterval(60)
    func written() -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(world.storage)/volumes/\(volume)")) ?? []
        return names.contains { $0 != ".importing" }
    }
    while Date() < deadline && controller.isRunning && !(FileManager.default.fileExists(atPath: marker) && written()) {
        Thread.sleep(forTimeInterval: 0.02)
    }
    Thread.sleep(forTimeInterval: 0.3)
    #expect(controller.isRunning, "the import finished or failed before it could be killed", sourceLocation: sourceLocation)
    #expect(FileManager.default.fileExists(atPath: marker), sourceLocation: sourceLocation)
    kill(controller.processIdentifier, SIGKILL)
    controller.waitUntilExit()
    #expect(controller.terminationReason == .uncaughtSignal, sourceLocation: sourceLocation)
}

/// Starts a process with its output discarded; the caller waits for or kills it.
func startProcess(_ executable: String, _ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}
