import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGKILL at random points of a pod import into a block volume (issue 18 §3). A block device cannot be absent, so
/// an interrupted import is marked incomplete the way CDI's controller reads it: no termination message saying
/// "Import Complete" and a non-zero exit. The next run writes the whole image over whatever the killed one left.
@Suite(.enabled(if: Fixtures.available && TestLoopDevice.available, "needs the loopback servers, root and loop devices"))
struct FaultKillBlockTests {
    static let MiB = 1 << 20

    @Test func aBlockVolumeImportKilledAtRandomPoints() throws {
        var random = FaultRandom()
        print("FaultKillBlockTests.aBlockVolumeImportKilledAtRandomPoints: seed \(random.seed)")
        let http = try HTTPFixture()
        let pod = try PodWorld()
        let raw = http.directory.file("random.raw")
        let url = try FaultSpaceTests.servedRandomGzip(http, dataMiB: 24)
        try Harness.tool("gzip", "-d", "-k", "-f", raw + ".gz")
        let device = try TestLoopDevice(size: 48 * Self.MiB, fill: 0xA5)
        try FileManager.default.createSymbolicLink(atPath: pod.blockDevice, withDestinationPath: device.path)
        let environment = FaultSpaceTests.podEnvironment(url, size: "48Mi")

        func runToCompletion(after point: Int?) throws -> TimeInterval {
            let started = Date()
            let outcome = try pod.run(environment)
            #expect(outcome.status == 0, "after point \(point ?? -1): \(outcome.stderr)")
            #expect(outcome.termination?.contains("Import Complete") == true, "after point \(point ?? -1)")
            #expect(try Harness.run("cmp", ["-n", String(24 * Self.MiB), raw, device.path]).status == 0,
                    "after point \(point ?? -1): the device does not hold the image")
            #expect(try pod.dataEntries() == [])
            #expect(Interrupt.leftovers(in: pod.dir.path).isEmpty, "after point \(point ?? -1): \(Interrupt.leftovers(in: pod.dir.path))")
            try? FileManager.default.removeItem(atPath: pod.terminationLog)
            return Date().timeIntervalSince(started)
        }

        let span = try runToCompletion(after: nil)
        for point in 0..<FaultKillTests.points {
            let process = try pod.start(environment)
            usleep(useconds_t(Double.random(in: 0...(span * 1.1), using: &random) * 1e6))
            kill(process.processIdentifier, SIGKILL)
            let outcome = pod.outcome(of: process)
            let finished = process.terminationReason == .exit && process.terminationStatus == 0
            if !finished {
                #expect(Interrupt.endedBy(SIGKILL, process), "point \(point): \(process.terminationReason) \(process.terminationStatus)")
                // Killed after the message was written: it may say complete only when the device holds the image.
                if outcome.termination?.contains("Import Complete") == true {
                    #expect(try Harness.run("cmp", ["-n", String(24 * Self.MiB), raw, device.path]).status == 0,
                            "point \(point): complete, but the device does not hold the image")
                }
            }
            try? FileManager.default.removeItem(atPath: pod.terminationLog)
            // A fresh pattern, so that the next run's write is seen to cover what the killed one left.
            try Harness.tool("dd", "if=/dev/zero", "of=\(device.path)", "bs=1M", "count=4", "seek=\(point % 20)", "conv=notrunc,fsync", "status=none")
            _ = try runToCompletion(after: point)
        }
    }
}
