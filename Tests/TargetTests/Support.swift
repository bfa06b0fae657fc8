import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A directory under the system temporary directory, removed with everything in it when released.
final class ScratchDirectory {
    let path: String

    init(under base: String = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") throws {
        path = base + "/diskimport-target-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Names in the directory, for checking that nothing (no temporary file) was left behind.
    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

struct CommandFailed: Error, CustomStringConvertible {
    var description: String
}

/// Runs a program (losetup, mkfs, mount …) that must succeed; returns its standard output.
@discardableResult
func sh(_ executable: String, _ arguments: String...) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let stderr = String(decoding: errors, as: UTF8.self)
        throw CommandFailed(description: MissingProgram.explanation(program: executable, status: process.terminationStatus, stderr: stderr)
            ?? "\(executable) \(arguments.joined(separator: " ")): \(stderr)")
    }
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Whether this machine lets the tests make loop devices and mount filesystems (root, /dev/loop-control, losetup).
enum Privileges {
    static let loopDevices: Bool = {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/dev/loop-control") else { return false }
        return (try? sh("losetup", "-f")) != nil
    }()
    static let reason: Comment = "needs root and loop devices (losetup -f) to make block devices and filesystems"
}

/// A loop device over a sparse backing file; detached and removed when released.
final class LoopDevice {
    let path: String
    let backing: ScratchDirectory

    init(size: UInt64) throws {
        backing = try ScratchDirectory()
        let file = backing.file("backing.img")
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        try sh("truncate", "-s", String(size), file)
        // Parallel tests must not race for the same free loop device.
        path = try Self.setupLock.withLock { try sh("losetup", "-f", "--show", file) }
    }

    private static let setupLock = NSLock()

    deinit { _ = try? sh("losetup", "-d", path) }
}

/// A filesystem made on a loop device and mounted; unmounted and detached when released.
final class MountedFilesystem {
    let device: LoopDevice
    let mountPoint: ScratchDirectory

    /// `mkfs` is the program and its options, e.g. ["mkfs.xfs", "-q", "-m", "reflink=1"].
    init(size: UInt64, mkfs: [String]) throws {
        device = try LoopDevice(size: size)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = mkfs + [device.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            // env exits 127 for a program not on PATH (stderr is discarded here).
            throw CommandFailed(description: process.terminationStatus == 127 ? MissingProgram.notInstalled(mkfs[0])
                                                                              : "\(mkfs.joined(separator: " ")) failed")
        }
        mountPoint = try ScratchDirectory()
        try sh("mount", device.path, mountPoint.path)
    }

    var path: String { mountPoint.path }

    deinit { _ = try? sh("umount", mountPoint.path) }
}

/// A size-limited tmpfs; unmounted when released.
final class Tmpfs {
    let mountPoint: ScratchDirectory

    init(size: String) throws {
        mountPoint = try ScratchDirectory()
        try sh("mount", "-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mountPoint.path)
    }

    var path: String { mountPoint.path }

    deinit { _ = try? sh("umount", mountPoint.path) }
}

/// Deterministic bytes for test data (xorshift), never all zero in a 4 KiB block.
func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[i] = UInt8(truncatingIfNeeded: state) | (i % 512 == 0 ? 1 : 0)
    }
    return bytes
}

enum FileFacts {
    /// The file's data ranges from lseek SEEK_DATA / SEEK_HOLE.
    static func dataRanges(_ path: String) throws -> [Range<UInt64>] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CommandFailed(description: "open \(path)") }
        defer { close(fd) }
        let size = UInt64(lseek(fd, 0, SEEK_END))
        var ranges: [Range<UInt64>] = []
        var position: off_t = 0
        while UInt64(position) < size {
            let data = lseek(fd, position, 3 /* SEEK_DATA */)
            if data < 0 { break }
            let hole = lseek(fd, data, 4 /* SEEK_HOLE */)
            ranges.append(UInt64(data)..<UInt64(hole))
            position = hole
        }
        return ranges
    }

    static func allocatedBytes(_ path: String) throws -> UInt64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw CommandFailed(description: "stat \(path)") }
        return UInt64(st.st_blocks) * 512
    }

    static func bytes(_ path: String, offset: UInt64 = 0, count: Int? = nil) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let data = try count.map { try handle.read(upToCount: $0) } ?? handle.readToEnd()
        return [UInt8](data ?? Data())
    }

    static func write(_ bytes: [UInt8], to path: String, at offset: UInt64 = 0) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data(bytes))
    }
}

/// Where two byte arrays first differ, or nil when they are equal: `#expect(firstDifference(a, b) == nil)` fails
/// with one short line instead of printing megabytes.
func firstDifference(_ actual: [UInt8], _ expected: [UInt8]) -> String? {
    let common = min(actual.count, expected.count)
    if let i = (0..<common).first(where: { actual[$0] != expected[$0] }) ?? (actual.count != expected.count ? common : nil) {
        let got = i < actual.count ? String(actual[i]) : "end", want = i < expected.count ? String(expected[i]) : "end"
        return "first difference at offset \(i): \(got) instead of \(want) (lengths \(actual.count) and \(expected.count))"
    }
    return nil
}
