import Foundation

/// A fixture script (scripts/fault-proxy, scripts/fixtures/upload-proxy.py) listening on a free loopback port it
/// writes to --port-file; killed (by its PID) when released.
final class LoopbackScript {
    let port: Int
    let logPath: String
    private let process: Process
    private let directory: TemporaryDirectory

    /// Starts `script` (a path, absolute or from the repository's root) with `arguments` after its --port-file,
    /// --log and --lifetime, and waits until it listens.
    init(_ script: String, _ arguments: [String], python: String = "python3") throws {
        directory = try TemporaryDirectory()
        let portFile = directory.file("port")
        logPath = directory.file("log")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let path = script.hasPrefix("/") ? script : Qcow2Matrix.repositoryRoot + "/" + script
        process.arguments = [python, path, "--port-file", portFile, "--log", logPath, "--lifetime", "300"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: portFile) {
            guard Date() < deadline, process.isRunning else {
                kill(process.processIdentifier, SIGKILL)
                throw HarnessError("\(script) did not start")
            }
            usleep(20_000)
        }
        port = Int(try String(contentsOfFile: portFile, encoding: .utf8)) ?? 0
    }

    /// SIGKILL by PID: the test runner's children inherit a blocked SIGTERM.
    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// One JSON object per line of the script's log (fault-proxy: one per connection it handled).
    var entries: [[String: Any]] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
