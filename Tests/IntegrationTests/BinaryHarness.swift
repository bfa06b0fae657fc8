import Foundation
import TestSupport
import Testing

/// Runs the built `diskimport` binary and other programs, for tests that drive the product as users do.
enum Harness {
    /// The binary under test: $DISKIMPORT_BIN, else the one `swift build` put next to the test bundle.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["DISKIMPORT_BIN"] { return path }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("diskimport").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return ".build/debug/diskimport"
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable` with `arguments`; output is captured through files so large output cannot block a pipe.
    /// A program this machine lacks (or that lacks a module) throws, naming the Debian package to install.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") || executable.hasPrefix(".") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") || executable.hasPrefix(".") ? arguments : [executable] + arguments
        if let environment { process.environment = environment }
        let dir = try TemporaryDirectory()
        let out = dir.path + "/stdout", err = dir.path + "/stderr"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        do { try process.run() } catch { throw HarnessError(MissingProgram.notInstalled(executable)) }
        process.waitUntilExit()
        let result = Result(status: process.terminationStatus,
                            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        let program = executable == "/usr/bin/env" ? arguments.first ?? executable : executable
        if program == binary || arguments.contains(binary) {
            SecretScan.expectNone(in: [("standard output", result.stdout), ("standard error", result.stderr)])
        }
        if program != binary, let missing = MissingProgram.explanation(program: program, status: result.status, stderr: result.stderr) {
            throw HarnessError(missing)
        }
        return result
    }

    /// Runs diskimport.
    @discardableResult
    static func diskimport(_ arguments: String...) throws -> Result { try run(binary, arguments) }

    /// Runs diskimport with `arguments` under GNU time and `timeout 60` (a hang exits 124), inside `cgroup` if given;
    /// returns its result and its peak RSS in KiB.
    static func diskimportMeasured(_ arguments: [String], environment: [String: String]? = nil,
                                   inside cgroup: MemoryCgroup? = nil) throws -> (Result, maxRSSKiB: Int) {
        let dir = try TemporaryDirectory()
        let rss = dir.file("rss")
        let command = ["timeout", "60", binary] + arguments
        let result = try run("/usr/bin/time", ["-o", rss, "-f", "%M"] + (cgroup?.wrap(command) ?? command), environment: environment)
        let maxRSSKiB = Int(try String(contentsOfFile: rss, encoding: .utf8).split(separator: "\n").last ?? "") ?? .max
        return (result, maxRSSKiB)
    }

    /// Runs a helper program (qemu-img, gzip …) that must succeed.
    @discardableResult
    static func tool(_ executable: String, _ arguments: String...) throws -> Result {
        let result = try run(executable, arguments)
        if result.status != 0 {
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
        return result
    }
}

extension Harness {
    /// The import failed (exit `status`: 1, or 64 for a usage error) with exactly one error line, containing
    /// `message`, and left nothing in `directory` whose name contains `target` (no target, no temporary file).
    static func expectFailure(_ result: Result, containing message: String, leavingNothingNamed target: String,
                              in directory: TemporaryDirectory, status: Int32 = 1, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == status, sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").filter { $0.hasPrefix("diskimport: error") }.count == 1,
                "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(target) }
        #expect(left.isEmpty, "left behind: \(left)", sourceLocation: sourceLocation)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A directory under the system temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        path = base + "/diskimport-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Byte-for-byte file comparison, and allocated size.
enum Files {
    static func identical(_ a: String, _ b: String) throws -> Bool {
        try Harness.run("cmp", ["-s", a, b]).status == 0
    }

    static func allocatedBytes(_ path: String) throws -> UInt64 {
        let out = try Harness.tool("stat", "-c", "%b %B", path).stdout.split(separator: " ")
        return UInt64(out[0])! * UInt64(out[1].trimmingCharacters(in: .whitespacesAndNewlines))!
    }
}
