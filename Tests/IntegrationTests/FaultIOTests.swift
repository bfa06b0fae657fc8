import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// scripts/fixtures/faultfs for one test: a FUSE passthrough of a backing directory that fails chosen reads and
/// writes with EIO. Unmounted, and its process killed by PID, when released.
final class FaultFilesystem {
    static let available: Bool = getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse")
        && ((try? String(contentsOfFile: "/proc/filesystems", encoding: .utf8))?.contains("fuse") ?? false)
    static let reason: Comment = "needs root and /dev/fuse to mount scripts/fixtures/faultfs"

    let backing: String
    let mountPoint: String
    private let process: Process
    private let directory: TemporaryDirectory

    /// Mounts a passthrough of a new backing directory; `failRead`/`failWrite` are faultfs's NAME@OFFSET rules.
    init(failRead: [String] = [], failWrite: [String] = [], at mountPoint: String? = nil) throws {
        directory = try TemporaryDirectory()
        backing = directory.file("backing")
        self.mountPoint = mountPoint ?? directory.file("mount")
        try FileManager.default.createDirectory(atPath: backing, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: self.mountPoint, withIntermediateDirectories: true)
        let ready = directory.file("ready")
        var arguments = [backing, self.mountPoint, "--ready", ready, "--log", directory.file("faults.log")]
        for rule in failRead { arguments += ["--fail-read", rule] }
        for rule in failWrite { arguments += ["--fail-write", rule] }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/fixtures/faultfs").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: {
            let path = directory.file("faultfs.stderr")
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return path
        }()))
        try process.run()
        let deadline = Date().addingTimeInterval(120)   // the first use installs mfusepy into its venv
        while Date() < deadline && process.isRunning && !FileManager.default.fileExists(atPath: ready) { usleep(20_000) }
        guard FileManager.default.fileExists(atPath: ready) else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            let log = (try? String(contentsOfFile: directory.file("faultfs.stderr"), encoding: .utf8)) ?? ""
            throw HarnessError("faultfs did not mount: \(log)")
        }
    }

    /// Copies `file` into the filesystem as `name` (through the backing directory: no fault on the way in).
    func place(_ file: String, as name: String) throws -> String {
        try FileManager.default.copyItem(atPath: file, toPath: backing + "/" + name)
        return mountPoint + "/" + name
    }

    /// The faults faultfs injected, one "read-eio|write-eio NAME OFFSET SIZE" line each.
    var injected: [String] {
        ((try? String(contentsOfFile: directory.file("faults.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: backing).sorted() }

    deinit {
        _ = try? Harness.run("umount", ["-l", mountPoint])
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// EIO under the source and under the target (issue 18 §3): one line naming the I/O error, exit 1, and no target
/// that looks complete.
@Suite(.enabled(if: FaultFilesystem.available, FaultFilesystem.reason))
struct FaultIOTests {
    static let MiB = 1 << 20

    /// 8 MiB of random data as `format` (raw or qcow2) in `dir`.
    private func image(_ format: String, in dir: TemporaryDirectory) throws -> String {
        let raw = dir.file("disk.raw")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(raw)", "bs=1M", "count=8", "status=none")
        guard format != "raw" else { return raw }
        let converted = dir.file("disk.\(format)")
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", format, raw, converted)
        if format == "qcow2.gz" { try Harness.tool("gzip", "-f", converted) }
        return converted
    }

    /// Reads of the source fail past 4 MiB: raw (ranged reads), qcow2 (random access) and gzip (a stream).
    @Test(arguments: ["raw", "qcow2", "gz"])
    func aSourceThatFailsToReadMidway(format: String) throws {
        let dir = try TemporaryDirectory()
        var source = try image(format == "gz" ? "raw" : format, in: dir)
        if format == "gz" {
            try Harness.tool("gzip", "-1", "-f", source)
            source += ".gz"
        }
        let fs = try FaultFilesystem(failRead: ["source@\(4 * Self.MiB)"])
        let mounted = try fs.place(source, as: "source.\(format)")
        let result = try Harness.diskimport("convert", mounted, dir.file("out.img"))
        try Harness.expectFailure(result, containing: "Input/output error", leavingNothingNamed: "out.img", in: dir)
        #expect(fs.injected.contains { $0.hasPrefix("read-eio") }, "no read failed: \(result.stderr)")
    }

    /// Writes of the target fail past 4 MiB: the temporary file goes, no disk.img appears.
    @Test(arguments: ["raw", "qcow2"])
    func aTargetThatFailsToWriteMidway(format: String) throws {
        let dir = try TemporaryDirectory()
        let source = try image(format, in: dir)
        let fs = try FaultFilesystem(failWrite: ["disk.img@\(4 * Self.MiB)"])
        let result = try Harness.diskimport("convert", source, fs.mountPoint + "/disk.img")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("diskimport: error: ") && result.stderr.contains("Input/output error"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(fs.injected.contains { $0.hasPrefix("write-eio") }, "no write failed: \(result.stderr)")
        let left = try fs.entries()
        #expect(left.isEmpty, "left behind: \(left)")
    }

    /// A pod whose data volume fails writes: no disk.img, no "Import Complete", one error line.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aPodWhoseVolumeFailsToWrite() throws {
        let http = try HTTPFixture()
        let url = try FaultSpaceTests.servedRandomGzip(http, dataMiB: 8)
        let pod = try PodWorld()
        let fs = try FaultFilesystem(failWrite: ["disk.img@\(4 * Self.MiB)"], at: pod.dataDirectory)
        let outcome = try pod.run(FaultSpaceTests.podEnvironment(url, size: "16Mi"))
        #expect(outcome.status == 1, "\(outcome.stderr)")
        let errors = outcome.stderr.split(separator: "\n").filter { $0.contains(" error diskimport") }
        #expect(errors.count == 1 && errors[0].contains("Input/output error"), "\(outcome.stderr)")
        #expect(outcome.termination?.contains("Import Complete") != true)
        #expect(fs.injected.contains { $0.hasPrefix("write-eio") }, "no write failed: \(outcome.stderr)")
        let left = try fs.entries()
        #expect(left.isEmpty, "left behind: \(left)")
    }
}
