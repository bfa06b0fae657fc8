import Foundation

/// scripts/fault-proxy running for one test: cuts or stalls connections to a fixture server, or acts as a forward
/// proxy. Stopped (by its PID) when released.
final class FaultProxy {
    let port: Int
    let logPath: String
    private let process: Process
    private let directory: TemporaryDirectory

    /// Starts the proxy with `arguments` (after --port-file and --log) and waits until it listens.
    init(_ fixtures: Fixtures, _ arguments: [String]) throws {
        directory = try TemporaryDirectory()
        let portFile = directory.file("port")
        logPath = directory.file("log")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", try fixtures["FAULT_PROXY"], "--port-file", portFile, "--log", logPath, "--lifetime", "300"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: portFile) {
            guard Date() < deadline, process.isRunning else {
                kill(process.processIdentifier, SIGKILL)
                throw HarnessError("fault-proxy did not start")
            }
            usleep(20_000)
        }
        port = Int(try String(contentsOfFile: portFile, encoding: .utf8)) ?? 0
    }

    /// A proxy in front of 127.0.0.1:`targetPort`.
    convenience init(_ fixtures: Fixtures, target targetPort: String, _ faults: [String]) throws {
        try self.init(fixtures, ["--target", "127.0.0.1:\(targetPort)"] + faults)
    }

    /// SIGKILL by PID: the test runner's children inherit a blocked SIGTERM.
    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// One JSON object per connection the proxy handled.
    var connections: [[String: Any]] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
