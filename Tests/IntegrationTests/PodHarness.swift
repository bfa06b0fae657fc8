import Foundation
import Testing

/// One importer pod's world in a temporary directory: a data volume directory, a scratch directory (absent unless
/// made), a termination log; `run` starts `diskimport import` with a CDI-style environment against them.
final class PodWorld {
    let dir: TemporaryDirectory
    var dataDirectory: String { dir.path + "/data" }
    var diskImage: String { dataDirectory + "/disk.img" }
    var scratchDirectory: String { dir.path + "/scratch" }
    var terminationLog: String { dir.path + "/termination-log" }
    /// The block volume path; block mode only when something exists there.
    var blockDevice: String
    /// 0: no metrics endpoint.
    var metricsPort = 0

    init() throws {
        dir = try TemporaryDirectory()
        blockDevice = dir.path + "/cdi-block-volume"
        try FileManager.default.createDirectory(atPath: dir.path + "/data", withIntermediateDirectories: true)
    }

    struct Outcome {
        var status: Int32
        var stderr: String
        /// The termination log's content, nil when none was written.
        var termination: String?
    }

    /// Runs `diskimport import` with exactly `environment` (plus PATH and TMPDIR) and the world's paths.
    func run(_ environment: [String: String], _ extraArguments: [String] = []) throws -> Outcome {
        let result = try Harness.run(Harness.binary, arguments(extraArguments), environment: fullEnvironment(environment))
        let termination = try? String(contentsOfFile: terminationLog, encoding: .utf8)
        SecretScan.expectNone(in: [("termination message", termination)])
        return Outcome(status: result.status, stderr: result.stderr, termination: termination)
    }

    /// Starts `diskimport import` without waiting; its standard error goes to `stderrFile`.
    func start(_ environment: [String: String], _ extraArguments: [String] = []) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.binary)
        process.arguments = arguments(extraArguments)
        process.environment = fullEnvironment(environment)
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrFile))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    var stderrFile: String { dir.path + "/importer.stderr" }

    /// What a started import ended with.
    func outcome(of process: Process) -> Outcome {
        process.waitUntilExit()
        let outcome = Outcome(status: process.terminationStatus,
                              stderr: (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "",
                              termination: try? String(contentsOfFile: terminationLog, encoding: .utf8))
        SecretScan.expectNone(in: [("standard error", outcome.stderr), ("termination message", outcome.termination)])
        return outcome
    }

    private func arguments(_ extra: [String]) -> [String] {
        ["import", "--data-dir", dataDirectory, "--block-device", blockDevice, "--scratch-dir", scratchDirectory,
         "--termination-log", terminationLog, "--extra-headers-dir", dir.path + "/extraheaders",
         "--metrics-port", String(metricsPort)] + extra
    }

    private func fullEnvironment(_ environment: [String: String]) -> [String: String] {
        var env = environment
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        if let tmp = ProcessInfo.processInfo.environment["TMPDIR"] { env["TMPDIR"] = tmp }
        return env
    }

    /// Names in the data directory (what an import left behind).
    func dataEntries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dataDirectory).sorted()
    }
}

/// A TCP port nobody listens on right now, from the kernel (bind to port 0 on loopback, read it back, close).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw HarnessError("bind failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
