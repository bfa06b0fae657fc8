import DiskImportCore
import Foundation
import Testing
@testable import DiskImage

/// The block-parallel raw.xz reader on its own: any number of workers writes the same image, in chunks, within
/// the decoded-size limit, and a damaged block is one `.corrupt` error.
@Suite struct XzParallelRawReaderTests {
    /// 2.5 MiB: 1.5 MiB of random data, 0.5 MiB of zeros, a pattern; compressed by `xz -T2` in 256 KiB blocks (plus `extra` options).
    func makeXz(in dir: String, extra: [String] = []) throws -> (raw: [UInt8], xz: String) {
        var generator = SystemRandomNumberGenerator()
        var raw = [UInt8](repeating: 0, count: 5 << 19)
        for i in 0..<(3 << 19) { raw[i] = UInt8.random(in: 0...255, using: &generator) }
        for i in (2 << 20)..<raw.count { raw[i] = UInt8(truncatingIfNeeded: i / 4096) }
        let path = dir + "/disk.raw"
        try Data(raw).write(to: URL(fileURLWithPath: path))
        try runTool(["xz", "-k", "-T2", "--block-size=256KiB"] + extra + [path])
        return (raw, path + ".xz")
    }

    func withDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let dir = NSTemporaryDirectory() + "xz-reader-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try body(dir)
    }

    @Test(arguments: [1, 2, 5])
    func anyNumberOfWorkersWritesTheImage(threads: Int) throws {
        try withDirectory { dir in
            let (raw, xz) = try makeXz(in: dir)
            let reader = XzParallelRawReader(stream: try LocalFile(path: xz).stream(), threads: threads)
            let sink = MemorySink(size: raw.count)
            let progress = TransferProgress()
            let size = try reader.convert(to: sink, progress: progress)
            #expect(size == UInt64(raw.count))
            #expect(progress.guestBytes == UInt64(raw.count))
            #expect(sink.bytes == raw)
            // Ten 256 KiB blocks, each written as one chunk: never a whole decoded stream at once.
            #expect(sink.calls.writes == 10)
        }
    }

    @Test func aTightenedLimitStopsBeforeAnyBytePastIt() throws {
        try withDirectory { dir in
            let (raw, xz) = try makeXz(in: dir)
            let reader = XzParallelRawReader(stream: try LocalFile(path: xz).stream(), threads: 2,
                                             limit: UInt64(raw.count), reason: "the requested size")
            reader.tighten(to: (1 << 20) + 1000, reason: "what the test target holds")
            reader.tighten(to: 2 << 20, reason: "a looser bound is ignored")
            let sink = MemorySink(size: raw.count)
            do {
                _ = try reader.convert(to: sink, progress: TransferProgress())
                Issue.record("expected a limit error")
            } catch let error as DiskImportError {
                #expect(error.kind == .limit)
                #expect(error.message == "decompressed data exceeds 1049576 bytes (what the test target holds)")
            }
            #expect(sink.bytes[(1 << 20)...].allSatisfy { $0 == 0 }, "nothing written past the last whole block within the limit")
        }
    }

    @Test(arguments: [[], ["--check=sha256"]])
    func aDamagedBlockIsOneCorruptError(extra: [String]) throws {
        try withDirectory { dir in
            let (raw, xz) = try makeXz(in: dir, extra: extra)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: xz)))
            bytes[600_000] ^= 0x55
            try Data(bytes).write(to: URL(fileURLWithPath: xz))
            let reader = XzParallelRawReader(stream: try LocalFile(path: xz).stream(), threads: 2)
            do {
                _ = try reader.convert(to: MemorySink(size: raw.count), progress: TransferProgress())
                Issue.record("expected a corrupt-data error")
            } catch let error as DiskImportError {
                #expect(error.kind == .corrupt)
                #expect(error.message.hasPrefix("xz: compressed data is corrupt"))
            }
        }
    }
}
