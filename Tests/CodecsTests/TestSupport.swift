import Codecs
import DiskImportCore
import Foundation
import TestSupport
import Testing

/// Bytes in memory as a stream, handed out at most `maximumRead` at a time (decoders must cope with short reads).
final class MemoryStream: ByteStream {
    private let bytes: [UInt8]
    private let maximumRead: Int
    private var position = 0

    init(_ bytes: [UInt8], maximumRead: Int = .max) {
        self.bytes = bytes
        self.maximumRead = maximumRead
    }

    convenience init(_ data: Data, maximumRead: Int = .max) { self.init([UInt8](data), maximumRead: maximumRead) }

    var expectedLength: UInt64? { UInt64(bytes.count) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position, maximumRead)
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}

/// Reads a whole stream into memory.
func drain(_ stream: ByteStream, bufferSize: Int = 64 << 10) throws -> [UInt8] {
    var out: [UInt8] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let n = try stream.read(into: buffer)
        if n == 0 { return out }
        out += buffer[..<n]
    }
}

/// Runs `body` and returns the DiskImportError it throws (failing the test when it throws none or another error).
func diskImportError(_ body: () throws -> Void) -> DiskImportError? {
    do {
        try body()
        Issue.record("expected an error, got none")
    } catch let error as DiskImportError {
        return error
    } catch {
        Issue.record("expected a DiskImportError, got \(error)")
    }
    return nil
}

/// A directory under the temporary directory, removed when released.
final class Scratch {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "/codecs-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs a real tool (xz, zstd, gzip, python3 …) as the oracle; it must succeed.
@discardableResult
func tool(_ executable: String, _ arguments: [String], stdinFile: String? = nil, stdoutFile: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let scratch = try Scratch()
    let out = stdoutFile ?? scratch.file("stdout"), err = scratch.file("stderr")
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    _ = FileManager.default.createFile(atPath: err, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    if let stdinFile { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinFile)) }
    try process.run()
    process.waitUntilExit()
    let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
    guard process.terminationStatus == 0 else {
        throw ToolError(description: MissingProgram.explanation(program: executable, status: process.terminationStatus, stderr: stderr)
            ?? "\(executable) \(arguments.joined(separator: " ")) failed: \(stderr)")
    }
    return stdoutFile == nil ? ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "") : ""
}

struct ToolError: Error, CustomStringConvertible { var description: String }

/// Deterministic test data that compresses like a disk: text-like runs, random-ish bytes and zero runs.
func sampleData(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E3779B97F4A7C15 | 1
    var out = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        let run = Int(state % 4096) + 1
        let kind = (state >> 20) % 3
        let end = min(count, i + run)
        while i < end {
            if kind == 0 {
                out[i] = 0
            } else if kind == 1 {
                out[i] = UInt8(ascii: "a") &+ UInt8(i % 23)
            } else {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                out[i] = UInt8(truncatingIfNeeded: state)
            }
            i += 1
        }
    }
    return out
}

/// Writes `bytes` to `path`.
func write(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func contents(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// `bytes` compressed by a real tool reading stdin: e.g. compressed(data, "xz", ["-T2", "-c"]).
func compressed(_ bytes: [UInt8], _ executable: String, _ arguments: [String]) throws -> [UInt8] {
    let scratch = try Scratch()
    try write(bytes, to: scratch.file("in"))
    try tool(executable, arguments, stdinFile: scratch.file("in"), stdoutFile: scratch.file("out"))
    return try contents(scratch.file("out"))
}
