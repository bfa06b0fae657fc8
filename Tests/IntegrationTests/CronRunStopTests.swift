import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `cron run` as a long-lived process: the outdated gauge of a cron waiting on a storage class carries
/// `pending="true"`, and SIGTERM or SIGINT stop the controller, its metrics server and its lock.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct CronRunStopTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func aCronWaitingOnAStorageClassIsPendingAndTheControllerStopsCleanlyOn(signal: Int32) throws {
        let world = try CronWorld("pending")
        try world.push("a", disk: try world.makeDisk("A"))
        let classes = world.registry.directory.file("classes.yaml")
        try CronStorageClassTests.classesYAML(world, [("plain", nil, nil)]).write(toFile: classes, atomically: true, encoding: .utf8)
        try world.writeConfig(world.cronYAML(url: try world.url()))
        let port = try freeLoopbackPort()
        let stderr = world.registry.directory.file("run.stderr")
        _ = FileManager.default.createFile(atPath: stderr, contents: nil)
        let controller = Process()
        controller.executableURL = URL(fileURLWithPath: Harness.binary)
        controller.arguments = ["cron", "run", "--config", world.configPath, "--storage", world.storage, "--secrets", world.secrets,
                                "--storage-classes", classes, "--metrics-port", String(port)]
        controller.standardOutput = FileHandle.nullDevice
        controller.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        try controller.run()
        defer { if controller.isRunning { kill(controller.processIdentifier, SIGKILL); controller.waitUntilExit() } }

        // The gauge, once the first tick has found no class: outdated, and pending.
        /// The value of the cron's sample with `pending` (labels in any order), or nil.
        func sample(pending: Bool, in text: String) -> Double? {
            let labels = ["cron_name=\"\(world.cron)\"", "namespace=\"golden-images\"", "pending=\"\(pending)\""]
            let line = text.split(separator: "\n").first {
                $0.hasPrefix("kubevirt_cdi_dataimportcron_outdated{") && labels.allSatisfy($0.contains)
            }
            return line?.split(separator: " ").last.flatMap { Double($0) }
        }
        var scraped = ""
        var deadline = Date().addingTimeInterval(60)
        while Date() < deadline && controller.isRunning && sample(pending: true, in: scraped) == nil {
            scraped = try Harness.run("curl", ["-sk", "--max-time", "2", "https://127.0.0.1:\(port)/metrics"]).stdout
            if sample(pending: true, in: scraped) == nil { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(sample(pending: true, in: scraped) == 1, "\(scraped)")
        #expect(sample(pending: false, in: scraped) == nil, "\(scraped)")
        // The running controller holds the storage lock.
        let refused = try world.tick(CronStorageClassTests.times[0], ["--storage-classes", classes])
        #expect(refused.status != 0 && refused.stderr.contains("is in use by another diskimport cron controller (pid \(controller.processIdentifier))"),
                "\(refused.stderr)")

        kill(controller.processIdentifier, signal)
        deadline = Date().addingTimeInterval(20)
        while Date() < deadline && controller.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        try #require(!controller.isRunning, "cron run ignored signal \(signal)")
        #expect(controller.terminationReason == .uncaughtSignal && controller.terminationStatus == signal,
                "\(controller.terminationReason) \(controller.terminationStatus)")
        let log = try String(contentsOfFile: stderr, encoding: .utf8)
        #expect(log.contains("stopping on \(signal == SIGTERM ? "SIGTERM" : "SIGINT")"), "\(log)")
        // The metrics port is closed, and the lock is free: a tick on the same storage runs.
        let gone = try Harness.run("curl", ["-sk", "--max-time", "2", "https://127.0.0.1:\(port)/metrics"])
        #expect(gone.status == 7, "curl exit \(gone.status): the port still answers")
        let tick = try world.tick(CronStorageClassTests.times[0], ["--storage-classes", classes])
        #expect(tick.status == 0, "\(tick.stderr)")
        #expect(tick.stdout.contains("\(world.cron):"), "\(tick.stdout)")
    }
}
