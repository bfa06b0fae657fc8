import CLinux
import DiskImportCore
import Foundation
import SystemPackage
import Target
import Testing

/// File targets on real filesystems made for the test: ext4 and ext2 for preallocation, a small tmpfs for ENOSPC,
/// XFS with reflink for shared extents.
@Suite(.enabled(if: Privileges.loopDevices, Privileges.reason))
struct FilesystemTargetTests {
    static let MiB: UInt64 = 1 << 20

    private func makeTarget(_ path: String, virtualSize: UInt64, free: UInt64 = 1 << 40, blockSize: UInt64 = 4096,
                            preallocation: PreallocationMode = .off, progress: TransferProgress = TransferProgress()) throws -> FileTarget {
        try FileTarget(path: path, finalPath: path, virtualSize: virtualSize,
                       space: SpacePlan(free: free, requested: nil, overhead: .standard), blockSize: blockSize,
                       preallocation: preallocation, progress: progress)
    }

    /// Writes 64 KiB of data at 1 MiB into a 4 MiB disk, preallocates as asked, and returns the outcome.
    private func preallocate(in directory: String, _ mode: PreallocationMode) throws -> (PreallocationOutcome, String) {
        let path = directory + "/disk-\(mode.rawValue).img"
        let progress = TransferProgress()
        let target = try makeTarget(path, virtualSize: 4 * Self.MiB, preallocation: mode, progress: progress)
        try pattern(65536, seed: 7).withUnsafeBytes { try target.write($0, at: Self.MiB) }
        let outcome = try target.finish(guestSize: 4 * Self.MiB)
        try target.commit(sync: true)
        #expect(firstDifference(try FileFacts.bytes(path, offset: Self.MiB, count: 65536), pattern(65536, seed: 7)) == nil)
        #expect(try FileFacts.bytes(path, count: Int(Self.MiB)).allSatisfy { $0 == 0 })
        return (outcome.preallocation, path)
    }

    @Test func fallocateReservesEveryBlockOnExt4() throws {
        let fs = try MountedFilesystem(size: 64 * Self.MiB, mkfs: ["mkfs.ext4", "-q"])
        for mode in [PreallocationMode.falloc, .full] {
            let (outcome, path) = try preallocate(in: fs.path, mode)
            #expect(outcome.method == .fallocate && outcome.applied)
            #expect(try FileFacts.allocatedBytes(path) >= 4 * Self.MiB)
        }
        let (off, path) = try preallocate(in: fs.path, .off)
        #expect(off.method == .none && !off.applied)
        #expect(try FileFacts.allocatedBytes(path) <= 128 * 1024)
    }

    /// ext2 has no fallocate(2): `falloc` falls back to posix_fallocate, `full` to writing zeros.
    @Test func withoutFallocateFallocFallsBackToPosixFallocateAndFullToZeros() throws {
        let fs = try MountedFilesystem(size: 64 * Self.MiB, mkfs: ["mkfs.ext2", "-q"])
        let (falloc, fallocPath) = try preallocate(in: fs.path, .falloc)
        #expect(falloc.method == .posixFallocate && falloc.applied)
        #expect(try FileFacts.allocatedBytes(fallocPath) >= 4 * Self.MiB)
        let (full, fullPath) = try preallocate(in: fs.path, .full)
        #expect(full.method == .zeros && full.applied)
        #expect(try FileFacts.allocatedBytes(fullPath) >= 4 * Self.MiB)
        #expect(try FileFacts.dataRanges(fullPath) == [0..<4 * Self.MiB])
    }

    @Test func aFullFilesystemIsATargetFullErrorAndLeavesNothingBehind() throws {
        let tmpfs = try Tmpfs(size: "2m")
        let path = tmpfs.path + "/disk.img"
        // The plan believes there is room (another writer may have filled the filesystem since statfs).
        let target = try makeTarget(path, virtualSize: 8 * Self.MiB)
        let data = pattern(Int(Self.MiB), seed: 11)
        let error = try #require(throws: DiskImportError.self) {
            for i in 0..<8 { try data.withUnsafeBytes { try target.write($0, at: UInt64(i) * Self.MiB) } }
        }
        #expect(error.kind == .space)
        #expect(error.message.hasPrefix("target full"))
        #expect(error.message.contains(path))
        target.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmpfs.path).isEmpty)
    }

    @Test func aTargetThatCannotBeCreatedNamesThePath() throws {
        let tmpfs = try Tmpfs(size: "1m")
        try sh("mount", "-o", "remount,ro", tmpfs.path)
        let path = tmpfs.path + "/disk.img"
        let error = try #require(throws: DiskImportError.self) { _ = try makeTarget(path, virtualSize: 4096) }
        #expect(error.message.hasPrefix("cannot create \(path)"))
        #expect(error.message.contains("Read-only file system"))
    }

    @Test func preallocatingMoreThanFitsIsATargetFullError() throws {
        let tmpfs = try Tmpfs(size: "2m")
        let path = tmpfs.path + "/disk.img"
        let target = try makeTarget(path, virtualSize: 8 * Self.MiB, preallocation: .falloc)
        let error = try #require(throws: DiskImportError.self) { _ = try target.finish(guestSize: 8 * Self.MiB) }
        #expect(error.kind == .space && error.message.contains(path))
        target.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmpfs.path).isEmpty)
    }

    /// On XFS with reflink=1 an aligned copy shares the source's extents instead of copying them; an unaligned one
    /// (512-byte offset) is copied with its zero blocks skipped.
    @Test func aReflinkFilesystemSharesAlignedRangesAndCopiesTheRest() throws {
        let fs = try MountedFilesystem(size: 320 * Self.MiB, mkfs: ["mkfs.xfs", "-q", "-m", "reflink=1"])
        let source = fs.path + "/source.bin"
        var bytes = pattern(Int(2 * Self.MiB), seed: 21)
        bytes.replaceSubrange(4096..<8192, with: [UInt8](repeating: 0, count: 4096))
        try FileFacts.write(bytes, to: source)
        let info = try FilesystemInfo.of(fs.path)
        let file = try FileDescriptor.open(source, .readOnly)
        defer { try? file.close() }

        let progress = TransferProgress()
        let path = fs.path + "/disk.img"
        let target = try makeTarget(path, virtualSize: 8 * Self.MiB, blockSize: info.blockSize, progress: progress)
        try target.copy(from: file, sourceOffset: 0, to: 0, length: 2 * Self.MiB)
        try target.copy(from: file, sourceOffset: 512, to: 4 * Self.MiB, length: Self.MiB)
        _ = try target.finish(guestSize: 8 * Self.MiB)
        try target.commit(sync: true)

        #expect(progress.clonedBytes == 2 * Self.MiB)
        #expect(firstDifference(try FileFacts.bytes(path, count: bytes.count), bytes) == nil)
        #expect(firstDifference(try FileFacts.bytes(path, offset: 4 * Self.MiB, count: Int(Self.MiB)), Array(bytes[512..<512 + Int(Self.MiB)])) == nil)
        let out = try FileDescriptor.open(path, .readOnly)
        defer { try? out.close() }
        var extents: UInt64 = 0, shared: UInt64 = 0, sharedBytes: UInt64 = 0
        #expect(clinux_fiemap_shared(out.rawValue, &extents, &shared, &sharedBytes) == 0)
        #expect(sharedBytes == 2 * Self.MiB)
    }
}
