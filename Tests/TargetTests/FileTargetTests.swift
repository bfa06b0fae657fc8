import Dispatch
import DiskImportCore
import Foundation
import SystemPackage
import Synchronization
import Target
import Testing

@Suite struct FileTargetTests {
    static let MiB: UInt64 = 1 << 20

    /// A file target in `dir` with plenty of room unless `free` says otherwise, under CDI's space rules at 0.055
    /// unless `overhead` says otherwise (nil: qemu-img's rules).
    private func makeTarget(_ path: String, virtualSize: UInt64?, requested: UInt64? = nil, free: UInt64 = 1 << 40,
                            overhead: FilesystemOverhead? = .standard,
                            preallocation: PreallocationMode = .off, progress: TransferProgress = TransferProgress()) throws -> FileTarget {
        try FileTarget(path: path, finalPath: path, virtualSize: virtualSize,
                       space: SpacePlan(free: free, requested: requested, overhead: overhead), blockSize: 4096,
                       preallocation: preallocation, progress: progress)
    }

    /// 16 blocks: data in blocks 1, 2, 5 and 15, zeros elsewhere.
    private func mixedBlocks() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 16 * 4096)
        for block in [1, 2, 5, 15] {
            bytes.replaceSubrange(block * 4096..<(block + 1) * 4096, with: pattern(4096, seed: UInt64(block)))
        }
        return bytes
    }

    @Test func zeroBlocksInDataStayHolesAndNothingIsVisibleBeforeCommit() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("disk.img")
        let progress = TransferProgress()
        let target = try makeTarget(path, virtualSize: 1 * Self.MiB, progress: progress)
        let bytes = mixedBlocks()
        try bytes.withUnsafeBytes { try target.write($0, at: 64 * 1024) }
        try target.writeZeros(at: 0, length: 64 * 1024)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try dir.entries() == [".disk.img.diskimport-\(getpid())"])
        let outcome = try target.finish(guestSize: 1 * Self.MiB)
        try target.commit(sync: true)

        #expect(outcome.length == 1 * Self.MiB && outcome.kind == .file && !outcome.preallocation.applied)
        #expect(try dir.entries() == ["disk.img"])
        let base: UInt64 = 64 * 1024
        #expect(try FileFacts.dataRanges(path) == [base + 4096..<base + 3 * 4096, base + 5 * 4096..<base + 6 * 4096,
                                                    base + 15 * 4096..<base + 16 * 4096])
        #expect(try FileFacts.allocatedBytes(path) == 4 * 4096)
        #expect(firstDifference(try FileFacts.bytes(path, offset: base, count: bytes.count), bytes) == nil)
        #expect(progress.writtenBytes == 4 * 4096)
        #expect(progress.holeBytes == 12 * 4096 + 64 * 1024)
    }

    @Test func writesAreJudgedInBlocksAlignedToTheGuestNotToTheBuffer() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("disk.img")
        let target = try makeTarget(path, virtualSize: 64 * 1024)
        // 100 bytes of data, then a whole zero block, then data: the buffer starts 100 bytes before a block boundary.
        var bytes = [UInt8](repeating: 0, count: 100 + 4096 + 4096)
        bytes.replaceSubrange(0..<100, with: pattern(100, seed: 9))
        bytes.replaceSubrange(4196..<8292, with: pattern(4096, seed: 10))
        try bytes.withUnsafeBytes { try target.write($0, at: 4096 - 100) }
        _ = try target.finish(guestSize: 64 * 1024)
        try target.commit(sync: false)
        #expect(try FileFacts.dataRanges(path) == [0..<4096, 8192..<12288])
        #expect(try FileFacts.bytes(path, offset: 4096 - 100, count: bytes.count) == bytes)
    }

    @Test(arguments: [(0, 0), (512, 4096), (4096 + 512, 512), (100, 8192 + 100)] as [(UInt64, UInt64)])
    func copyStoresOnlyTheDataBlocksOfALocalRange(sourceOffset: UInt64, guestOffset: UInt64) throws {
        let dir = try ScratchDirectory()
        let source = dir.file("source.bin")
        let bytes = mixedBlocks()
        try FileFacts.write(bytes, to: source, at: sourceOffset)
        let path = dir.file("disk.img")
        let progress = TransferProgress()
        let target = try makeTarget(path, virtualSize: 256 * 1024, progress: progress)
        let file = try FileDescriptor.open(source, .readOnly)
        defer { try? file.close() }
        try target.copy(from: file, sourceOffset: sourceOffset, to: guestOffset, length: UInt64(bytes.count))
        _ = try target.finish(guestSize: 256 * 1024)
        try target.commit(sync: false)
        #expect(firstDifference(try FileFacts.bytes(path, offset: guestOffset, count: bytes.count), bytes) == nil)
        #expect(progress.writtenBytes + progress.holeBytes == UInt64(bytes.count))
        // Every 4 KiB guest block that is all zeros is a hole (unless the filesystem shared the blocks: reflink).
        guard progress.clonedBytes == 0 else { return }
        let image = try FileFacts.bytes(path)
        for (block, range) in try FileFacts.dataRanges(path).flatMap({ r in stride(from: r.lowerBound, to: r.upperBound, by: 4096).map { ($0, r) } }) {
            #expect(image[Int(block)..<Int(block) + 4096].contains { $0 != 0 }, "zero block at \(block) stored (data range \(range))")
        }
    }

    @Test func bytesPastTheSourcesEndReadAsZeros() throws {
        let dir = try ScratchDirectory()
        let source = dir.file("short.bin")
        let data = pattern(6000, seed: 3)
        try FileFacts.write(data, to: source)
        let path = dir.file("disk.img")
        let target = try makeTarget(path, virtualSize: 64 * 1024)
        let file = try FileDescriptor.open(source, .readOnly)
        defer { try? file.close() }
        try target.copy(from: file, sourceOffset: 0, to: 0, length: 16384)
        _ = try target.finish(guestSize: 64 * 1024)
        try target.commit(sync: false)
        let image = try FileFacts.bytes(path)
        #expect(Array(image[0..<6000]) == data)
        #expect(image[6000...].allSatisfy { $0 == 0 })
        #expect(try FileFacts.dataRanges(path) == [0..<8192])
    }

    @Test func nothingMayLandPastThePlannedSize() throws {
        let dir = try ScratchDirectory()
        let target = try makeTarget(dir.file("disk.img"), virtualSize: 8192)
        let block = pattern(4096, seed: 1)
        try block.withUnsafeBytes { try target.write($0, at: 4096) }
        for attempt in [
            { try block.withUnsafeBytes { try target.write($0, at: 4097) } },
            { try target.writeZeros(at: 8192, length: 1) },
            { try target.writeZeros(at: UInt64.max - 10, length: 100) },
        ] as [() throws -> Void] {
            let error = try #require(throws: DiskImportError.self) { try attempt() }
            #expect(error.kind == .limit)
            #expect(error.message.contains(dir.file("disk.img")))
            #expect(error.message.contains("8192"))
        }
        // A raw stream of unknown size may grow only to the available space (CDI refuses a larger image), or
        // under qemu-img's rules to the requested size.
        let stream = try makeTarget(dir.file("stream.img"), virtualSize: nil, free: 3 * Self.MiB)
        #expect(stream.capacity == 3 * Self.MiB)
        #expect(throws: DiskImportError.self) { try stream.writeZeros(at: 3 * Self.MiB - 1, length: 2) }
        #expect(throws: DiskImportError.self) { _ = try stream.finish(guestSize: 3 * Self.MiB + 1) }
        let sized = try makeTarget(dir.file("sized.img"), virtualSize: nil, requested: 8 * Self.MiB, free: 3 * Self.MiB, overhead: nil)
        #expect(sized.capacity == 8 * Self.MiB)
    }

    @Test func abortAndReleaseRemoveTheTemporaryFile() throws {
        let dir = try ScratchDirectory()
        do {
            let target = try makeTarget(dir.file("a.img"), virtualSize: 4096)
            try pattern(4096, seed: 1).withUnsafeBytes { try target.write($0, at: 0) }
            #expect(try dir.entries().count == 1)
            target.abort()
            target.abort()
            #expect(try dir.entries().isEmpty)
        }
        do {
            let target = try makeTarget(dir.file("b.img"), virtualSize: 4096)
            _ = try target.finish(guestSize: 4096)
            #expect(try dir.entries().count == 1)
        }
        #expect(try dir.entries().isEmpty)
        // After commit, abort leaves the published file alone.
        let target = try makeTarget(dir.file("c.img"), virtualSize: 4096)
        _ = try target.finish(guestSize: 4096)
        try target.commit(sync: false)
        target.abort()
        #expect(try dir.entries() == ["c.img"])
    }

    @Test func anExistingFileIsReplacedOnlyAtCommit() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("disk.img")
        try FileFacts.write(Array("old contents".utf8), to: path)
        let target = try makeTarget(path, virtualSize: 8192)
        try pattern(4096, seed: 5).withUnsafeBytes { try target.write($0, at: 4096) }
        _ = try target.finish(guestSize: 8192)
        #expect(try FileFacts.bytes(path) == Array("old contents".utf8))
        try target.commit(sync: true)
        #expect(try FileFacts.bytes(path, offset: 4096, count: 4096) == pattern(4096, seed: 5))
        #expect(try FileFacts.bytes(path).count == 8192)
    }

    @Test func concurrentWritesOfDisjointRangesLandWhereTheyBelong() throws {
        let dir = try ScratchDirectory()
        let path = dir.file("disk.img")
        let chunk = 256 * 1024, chunks = 16
        let progress = TransferProgress()
        let target = try makeTarget(path, virtualSize: UInt64(chunk * chunks), progress: progress)
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            // Odd chunks are half zeros, so holes and data interleave across threads.
            var bytes = pattern(chunk, seed: UInt64(i + 1))
            if i % 2 == 1 { bytes.replaceSubrange(0..<chunk / 2, with: [UInt8](repeating: 0, count: chunk / 2)) }
            do {
                try bytes.withUnsafeBytes { try target.write($0, at: UInt64(i * chunk)) }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        _ = try target.finish(guestSize: UInt64(chunk * chunks))
        try target.commit(sync: false)
        let image = try FileFacts.bytes(path)
        for i in 0..<chunks {
            var expected = pattern(chunk, seed: UInt64(i + 1))
            if i % 2 == 1 { expected.replaceSubrange(0..<chunk / 2, with: [UInt8](repeating: 0, count: chunk / 2)) }
            #expect(firstDifference(Array(image[i * chunk..<(i + 1) * chunk]), expected) == nil, "chunk \(i)")
        }
        #expect(progress.writtenBytes == UInt64(chunk * chunks - chunks / 2 * chunk / 2))
    }

    @Test func finishGrowsTheFileToTheUsableRequestedSizeButNeverShrinksIt() throws {
        let dir = try ScratchDirectory()
        // requested 8 MiB → usable(8 MiB, 0.055) = 7 MiB.
        let target = try makeTarget(dir.file("a.img"), virtualSize: Self.MiB, requested: 8 * Self.MiB)
        #expect(try target.finish(guestSize: Self.MiB).length == 7 * Self.MiB)
        try target.commit(sync: false)
        #expect(try FileFacts.bytes(dir.file("a.img")).count == 7 * Int(Self.MiB))
        #expect(try FileFacts.allocatedBytes(dir.file("a.img")) == 0)
        // A guest larger than min(usable, requested) keeps its size.
        let big = try makeTarget(dir.file("b.img"), virtualSize: 5 * Self.MiB, requested: 5 * Self.MiB + 1)
        #expect(try big.finish(guestSize: 5 * Self.MiB).length == 5 * Self.MiB)
        // qemu-img's rules: the requested size itself, with no overhead, even past the free space.
        let plain = try makeTarget(dir.file("c.img"), virtualSize: Self.MiB, requested: 64 * Self.MiB, free: 8 * Self.MiB, overhead: nil)
        #expect(try plain.finish(guestSize: Self.MiB).length == 64 * Self.MiB)
    }
}
