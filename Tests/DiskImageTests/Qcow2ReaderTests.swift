import DiskImportCore
import Foundation
import Synchronization
import SystemPackage
import TestSupport
import Testing
@testable import DiskImage

/// An ExtentSink that keeps the guest image in memory and counts the calls it gets.
final class MemorySink: ExtentSink, @unchecked Sendable {
    private let state: Mutex<(bytes: [UInt8], writes: Int, zeros: Int, copies: Int)>

    init(size: Int) { state = Mutex(([UInt8](repeating: 0, count: size), 0, 0, 0)) }

    var bytes: [UInt8] { state.withLock { $0.bytes } }
    var calls: (writes: Int, zeros: Int, copies: Int) { state.withLock { ($0.writes, $0.zeros, $0.copies) } }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        state.withLock { s in
            s.writes += 1
            s.bytes.replaceSubrange(Int(offset)..<Int(offset) + bytes.count, with: bytes)
        }
    }

    func writeZeros(at offset: UInt64, length: UInt64) throws {
        state.withLock { s in
            s.zeros += 1
            s.bytes.replaceSubrange(Int(offset)..<Int(offset + length), with: repeatElement(0, count: Int(length)))
        }
    }

    func copy(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws {
        var buffer = [UInt8](repeating: 0, count: Int(length))
        let n = try buffer.withUnsafeMutableBytes { try file.read(fromAbsoluteOffset: Int64(sourceOffset), into: $0) }
        #expect(n == Int(length))
        state.withLock { s in
            s.copies += 1
            s.bytes.replaceSubrange(Int(offset)..<Int(offset + length), with: buffer)
        }
    }
}

func runTool(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, """
        \(MissingProgram.explanation(program: arguments[0], status: process.terminationStatus, stderr: stderr)
           ?? arguments.joined(separator: " ") + ": " + stderr)
        """)
}

@Suite struct Qcow2ReaderTests {
    /// A raw disk of `size` bytes with random data in `ranges`.
    func makeRaw(_ path: String, size: Int, data ranges: [Range<Int>]) throws -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: size)
        for range in ranges { for i in range { bytes[i] = UInt8.random(in: 1...255, using: &generator) } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return bytes
    }

    @Test(arguments: [512, 65536])
    func contiguousClustersBecomeFewCopies(clusterSize: Int) throws {
        let dir = NSTemporaryDirectory() + "qcow2-reader-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = dir + "/disk.raw", image = dir + "/disk.qcow2"
        let expected = try makeRaw(raw, size: 8 << 20, data: [0..<(3 << 20), (5 << 20)..<(5 << 20) + 4096])
        try runTool(["qemu-img", "convert", "-O", "qcow2", "-o", "cluster_size=\(clusterSize)", raw, image])

        let reader = try Qcow2Reader(file: try LocalFile(path: image), followBacking: true, threads: 2)
        let sink = MemorySink(size: 8 << 20)
        let progress = TransferProgress()
        #expect(try reader.convert(to: sink, progress: progress) == 8 << 20)
        #expect(sink.bytes == expected)
        #expect(progress.guestBytes == 8 << 20)
        // 512-byte clusters: 6144 data clusters, interrupted only where qemu put an L2 table (every 32 KiB).
        let clusters = (3 << 20) / clusterSize
        #expect(sink.calls.copies <= max(4, clusters / 32), "\(sink.calls)")
        #expect(sink.calls.writes == 0)
    }

    /// A source without a local file behind it (as ranged HTTP will be): data is read and written, not copied.
    final class RemoteLikeSource: RandomAccessSource, @unchecked Sendable {
        let file: LocalFile
        init(_ file: LocalFile) { self.file = file }
        var length: UInt64 { file.length }
        var displayName: String { "remote:" + file.path }
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try file.read(at: offset, into: buffer) }
    }

    @Test func sourceWithoutALocalFileIsReadAndWritten() throws {
        let dir = NSTemporaryDirectory() + "qcow2-reader-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = dir + "/disk.raw", image = dir + "/disk.qcow2", overlay = dir + "/overlay.qcow2"
        let expected = try makeRaw(raw, size: 4 << 20, data: [4096..<(2 << 20) + 100, (3 << 20)..<(3 << 20) + 512])
        try runTool(["qemu-img", "convert", "-O", "qcow2", raw, image])
        let reader = try Qcow2Reader(source: RemoteLikeSource(try LocalFile(path: image)), threads: 2)
        let sink = MemorySink(size: 4 << 20)
        _ = try reader.convert(to: sink, progress: TransferProgress())
        #expect(sink.bytes == expected)
        #expect(sink.calls.copies == 0 && sink.calls.writes > 0)

        try runTool(["qemu-img", "create", "-f", "qcow2", "-b", image, "-F", "qcow2", overlay])
        let message = errorMessage { _ = try Qcow2Reader(source: RemoteLikeSource(try LocalFile(path: overlay))) }
        #expect(message?.contains("backing files are only followed for local images") == true)
    }

    @Test func compressedClustersAreBatchedAndDecodedOnWorkers() throws {
        let dir = NSTemporaryDirectory() + "qcow2-reader-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let raw = dir + "/disk.raw", image = dir + "/disk.qcow2"
        var expected = [UInt8](repeating: 0, count: 4 << 20)
        for i in 0..<(3 << 20) { expected[i] = UInt8(truncatingIfNeeded: i / 100 &* 7) }
        try Data(expected).write(to: URL(fileURLWithPath: raw))
        try runTool(["qemu-img", "convert", "-c", "-O", "qcow2", raw, image])

        let reader = try Qcow2Reader(file: try LocalFile(path: image), followBacking: true, threads: 2)
        let sink = MemorySink(size: 4 << 20)
        _ = try reader.convert(to: sink, progress: TransferProgress())
        #expect(sink.bytes == expected)
        // 48 compressed 64 KiB clusters, written in runs of up to 1 MiB.
        #expect(sink.calls.writes <= 8, "\(sink.calls)")
    }
}
