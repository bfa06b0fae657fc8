import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ENOSPC in the middle of an import (issue 18 §3): a file target whose filesystem a second writer fills while the
/// import runs, a pod's data volume and a cron's volumes that fill during the transfer. Each ends in one line naming
/// the lack of space, a non-zero exit, no temporary file, nothing that looks like a complete target, and (cron) the
/// DataSource where it was.
@Suite(.enabled(if: SmallFilesystem.available, SmallFilesystem.reason))
struct FaultSpaceTests {
    static let MiB = 1 << 20

    /// A raw stream through a FIFO (no size known up front, so no pre-check can refuse it): 4 MiB arrive, a second
    /// writer then fills the filesystem, and the rest of the stream cannot be written.
    @Test func aFileTargetWhoseFilesystemFillsMidImport() throws {
        let dir = try TemporaryDirectory()
        let fs = try TmpfsMount(at: dir.file("fs"), megabytes: 32)
        let fifo = dir.file("source.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let go = dir.file("go")
        // The writer: 4 MiB, then waits for the test's "go" (after the ballast), then 16 MiB more.
        let writer = try startProcess("/bin/sh", ["-c", """
            exec > \(fifo); head -c 4194304 /dev/urandom; while [ ! -e \(go) ]; do sleep 0.02; done; head -c 16777216 /dev/urandom
            """])
        defer { if writer.isRunning { kill(writer.processIdentifier, SIGKILL) }; writer.waitUntilExit() }
        let target = fs.path + "/disk.img"
        let stderr = dir.file("stderr")
        _ = FileManager.default.createFile(atPath: stderr, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.binary)
        process.arguments = ["convert", fifo, target]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) }; process.waitUntilExit() }
        // Wait for the first 4 MiB to be in the temporary file, then fill the filesystem and let the rest come.
        let deadline = Date().addingTimeInterval(30)
        func written() -> UInt64 {
            let temporary = (try? fs.entries())?.first { $0.hasPrefix(".disk.img.diskimport-") }
            return temporary.flatMap { try? Files.allocatedBytes(fs.path + "/" + $0) } ?? 0
        }
        while Date() < deadline && process.isRunning && written() < UInt64(4 * Self.MiB) { usleep(10_000) }
        try #require(process.isRunning, "the import ended before the filesystem could be filled")
        try fs.fill(leaving: Self.MiB)
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        #expect(Interrupt.wait(process, seconds: 30), "the import did not end on a full filesystem")
        let log = try String(contentsOfFile: stderr, encoding: .utf8)
        #expect(process.terminationStatus == 1, "\(log)")
        #expect(log.hasPrefix("diskimport: error: target full: "), "\(log)")
        #expect(log.split(separator: "\n").count == 1, "\(log)")
        #expect(try fs.entries() == ["ballast"])
    }

    /// CDI's environment for a plain-HTTP image on the fixtures' nginx.
    static func podEnvironment(_ url: String, size: String) -> [String: String] {
        ["IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": url, "IMPORTER_CONTENTTYPE": "kubevirt", "IMPORTER_IMAGE_SIZE": size,
         "INSECURE_TLS": "false", "PREALLOCATION": "false", "FILESYSTEM_OVERHEAD": "0.055", "OWNER_UID": "0b7a3c4e"]
    }

    /// A served raw.gz of `dataMiB` MiB of random data: its size is not known until it is decompressed.
    static func servedRandomGzip(_ http: HTTPFixture, dataMiB: Int) throws -> String {
        let raw = http.directory.file("random.raw")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(raw)", "bs=1M", "count=\(dataMiB)", "status=none")
        try Harness.tool("gzip", "-1", "-f", raw)
        let served = try http.served(raw + ".gz", as: "random.raw.gz")
        return "http://127.0.0.1:\(try http.fixtures["HTTP_PORT"])/scratch/" + (served.path as NSString).lastPathComponent
    }

    /// The pod's data volume (32 MiB) holds 20 MiB of another writer's data; a 16 MiB gzip stream for a 24Mi PVC
    /// passes CDI's checks and runs out of space during the transfer.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aPodWhoseVolumeFillsDuringTheTransfer() throws {
        let http = try HTTPFixture()
        let url = try Self.servedRandomGzip(http, dataMiB: 16)
        let pod = try PodWorld()
        let volume = try TmpfsMount(at: pod.dataDirectory, megabytes: 32)
        try volume.fill(leaving: 10 * Self.MiB)
        let outcome = try pod.run(Self.podEnvironment(url, size: "24Mi"))
        #expect(outcome.status == 1, "\(outcome.stderr)")
        // The stream is bounded by what the volume can hold: it fails on that bound, or on ENOSPC, whichever first.
        let full = ["target full", "No space left", "can hold"]
        let errors = outcome.stderr.split(separator: "\n").filter { $0.contains(" error diskimport") }
        #expect(errors.count == 1 && errors.allSatisfy { line in full.contains { line.contains($0) } }, "\(outcome.stderr)")
        let termination = outcome.termination ?? ""
        #expect(!termination.contains("Import Complete") && full.contains { termination.contains($0) }, "\(termination)")
        #expect(try volume.entries() == ["ballast"])
    }

    /// A cron's volumes fill while it imports a new digest: the import fails with one line, the half-written volume
    /// goes, the DataSource stays on the volume it had, and with the space back the next tick imports it.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aCronImportWhoseVolumesFill() throws {
        let world = try CronWorld("enospc")
        let first = try world.push("a", disk: try world.makeDisk("A", size: 2 * Self.MiB))
        // The whole storage on a 32 MiB tmpfs (a first run needs it empty): the records share the volumes' space.
        let volumes = try TmpfsMount(at: world.storage, megabytes: 32)
        try world.writeConfig(world.cronYAML(url: try world.url(), storage: "24Mi"))
        let tick = try world.tick("2026-11-23T00:00:00Z")
        try #require(tick.status == 0, "\(tick.stderr)")
        #expect(try world.status().dataSource(world.dataSource)?["volume"] as? String == world.volume(first))

        // A 24 MiB digest: CDI's check passes (the space is there when it starts); once the first MiB is written a
        // second writer takes all but 1 MiB.
        let disk = try world.makeDisk("B", size: 24 * Self.MiB)
        let second = try world.push("b", disk: disk)
        let output = world.directory.file("tick.out")
        let tick2 = try startProcess("/bin/sh", ["-c", "exec \(Harness.binary) cron tick --config \(world.configPath) --storage \(world.storage) "
                                                 + "--secrets \(world.secrets) --now 2026-11-23T12:00:00Z > \(output) 2>&1"])
        defer { if tick2.isRunning { kill(tick2.processIdentifier, SIGKILL) }; tick2.waitUntilExit() }
        let volumeDirectory = "\(world.storage)/volumes/\(world.volume(second))"
        func written() -> UInt64 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: volumeDirectory)) ?? []
            return names.filter { $0 != ".importing" }.map { name -> UInt64 in
                var info = stat()
                return stat(volumeDirectory + "/" + name, &info) == 0 ? UInt64(info.st_blocks) * 512 : 0
            }.max() ?? 0
        }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && tick2.isRunning && written() < UInt64(Self.MiB) { usleep(500) }
        // Paused while the other writer fills the filesystem, so the import cannot finish first.
        kill(tick2.processIdentifier, SIGSTOP)
        try #require(tick2.isRunning, "the import ended before the filesystem could be filled: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        try volumes.fill(leaving: Self.MiB)
        kill(tick2.processIdentifier, SIGCONT)
        #expect(Interrupt.wait(tick2, seconds: 60))
        let log = try String(contentsOfFile: output, encoding: .utf8)
        #expect(tick2.terminationStatus != 0, "\(log)")
        let failures = log.split(separator: "\n").filter { $0.contains(", failed: ") }
        #expect(failures.count == 1 && (failures[0].contains("target full") || failures[0].contains("No space left")), "\(log)")
        let status = try world.status()
        #expect(status.dataSource(world.dataSource)?["volume"] as? String == world.volume(first))
        #expect(status.dataSource(world.dataSource)?["ready"] as? Bool == true)
        #expect(try world.volumeDirectories() == [world.volume(first)])
        #expect(Interrupt.leftovers(in: volumes.path).isEmpty, "\(Interrupt.leftovers(in: volumes.path))")

        // Space back: the next tick imports the new digest whole.
        try FileManager.default.removeItem(atPath: volumes.path + "/ballast")
        let retried = try world.tick("2026-11-23T12:30:00Z")
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(try world.status().dataSource(world.dataSource)?["volume"] as? String == world.volume(second))
        #expect(try Data(contentsOf: URL(fileURLWithPath: world.disk(world.volume(second)))).prefix(disk.count) == disk)
    }
}
