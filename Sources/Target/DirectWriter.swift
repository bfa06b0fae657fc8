import CLinux
import DiskImportCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Stores data on a block device with O_DIRECT: the device is written without filling the page cache with gigabytes
/// of dirty pages (which count against a pod's memory and make the final fsync long), and measured faster on loop
/// devices (scripts/bench-target). Page-aligned interiors go through a second descriptor opened with O_DIRECT; the
/// unaligned edges through the ordinary buffered one.
///
/// Interiors are aligned to whole pages, never just sectors: a buffered edge and a direct interior then never share a
/// page, so the page cache can never write stale bytes over direct ones.
final class DirectWriter: @unchecked Sendable {
    private let buffered: FileDescriptor
    private let direct: FileDescriptor?
    private let path: String
    private let directWorks: Atomic<Bool>
    /// Page size, and a multiple of the device's logical sector size.
    let alignment: UInt64
    /// Bytes staged at a time when the caller's buffer is not aligned for O_DIRECT.
    static let bounceSize = 4 << 20

    /// Opens `path` a second time with O_DIRECT; without it (the device or filesystem refuses), all writes are
    /// buffered.
    init(buffered: FileDescriptor, path: String) {
        self.buffered = buffered
        self.path = path
        var sector: Int32 = 512
        _ = clinux_block_sector_size(buffered.rawValue, &sector)
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        alignment = max(page, UInt64(max(sector, 512)))
        let raw = open(path, O_WRONLY | clinux_o_direct | O_CLOEXEC)
        direct = raw >= 0 ? FileDescriptor(rawValue: raw) : nil
        directWorks = Atomic(raw >= 0)
    }

    deinit { try? direct?.close() }

    /// Writes all of `bytes` at `offset`.
    func store(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let count = UInt64(bytes.count)
        let alignedStart = (offset + alignment - 1) / alignment * alignment
        let alignedEnd = (offset + count) / alignment * alignment
        guard let direct, alignedEnd > alignedStart, directWorks.load(ordering: .relaxed) else {
            return try TargetIO.writeAll(buffered, bytes, at: offset, path: path)
        }
        let start = alignedStart - offset, end = alignedEnd - offset
        if start > 0 { try TargetIO.writeAll(buffered, UnsafeRawBufferPointer(rebasing: bytes[..<Int(start)]), at: offset, path: path) }
        try storeDirect(UnsafeRawBufferPointer(rebasing: bytes[Int(start)..<Int(end)]), at: offset + start, direct)
        if end < count { try TargetIO.writeAll(buffered, UnsafeRawBufferPointer(rebasing: bytes[Int(end)...]), at: offset + end, path: path) }
    }

    /// fsync(2) of both descriptors: O_DIRECT bypasses the page cache, not the device's write cache.
    func sync() throws {
        if let direct { try TargetIO.sync(direct, path: path) }
        try TargetIO.sync(buffered, path: path)
    }

    /// An aligned range: straight from the caller's memory when it is page-aligned, else staged through a bounce
    /// buffer. If the kernel refuses O_DIRECT here (EINVAL), this and every later write goes buffered.
    private func storeDirect(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, _ direct: FileDescriptor) throws {
        do {
            if UInt(bitPattern: bytes.baseAddress) % UInt(alignment) == 0 {
                return try TargetIO.writeAll(direct, bytes, at: offset, path: path)
            }
            let bounce = UnsafeMutableRawBufferPointer.allocate(byteCount: min(bytes.count, Self.bounceSize), alignment: Int(alignment))
            defer { bounce.deallocate() }
            var done = 0
            while done < bytes.count {
                let n = min(bounce.count, bytes.count - done)
                bounce.baseAddress!.copyMemory(from: bytes.baseAddress! + done, byteCount: n)
                try TargetIO.writeAll(direct, UnsafeRawBufferPointer(rebasing: bounce[..<n]), at: offset + UInt64(done), path: path)
                done += n
            }
        } catch let error as DiskImportError where error.errno == .invalidArgument {
            directWorks.store(false, ordering: .relaxed)
            try TargetIO.writeAll(buffered, bytes, at: offset, path: path)
        }
    }
}
