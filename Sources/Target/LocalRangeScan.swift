import CLinux
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One run of a local-file range on its way to the guest: data to store, or zeros to skip.
struct LocalRun {
    var sourceOffset: UInt64
    var guestOffset: UInt64
    var length: UInt64
    /// The bytes, mapped from the source; nil when the run is zeros.
    var data: UnsafeRawBufferPointer?
}

/// Reads a range of a local file the cheap way, to find its zero blocks before it is stored.
///
/// The range is mapped in windows with mmap(2) and MAP_POPULATE (one fault-in per window, no copy into a buffer of
/// ours), scanned at 4 KiB guest granularity, and unmapped; the caller stores the data runs straight from the
/// mapping. Measured on ext4 (scripts/bench-target): mmap + scan + pwrite of the data runs beats both pread + scan +
/// pwrite and copy_file_range of each data run, whose per-call cost dominates when zero blocks are scattered.
enum LocalRangeScan {
    /// Bytes mapped at a time: large enough to amortise mmap/munmap, small enough to keep resident memory bounded
    /// when several threads copy at once.
    static let windowSize: UInt64 = 8 << 20

    static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    /// Ranges shorter than this are read with one pread(2) instead: for a few clusters, mmap + munmap (and the TLB
    /// shootdown munmap costs when other threads run) is dearer than the copy.
    static let smallRange: UInt64 = 64 << 10

    /// Calls `body` for each data or zero run of `length` bytes of `file` at `sourceOffset`, which go to guest
    /// `guestOffset`. Bytes past the end of the file read as zeros, as qemu reads them.
    static func forEachRun(
        file: FileDescriptor, sourceOffset: UInt64, guestOffset: UInt64, length: UInt64, minimumZeroRun: Int,
        _ body: (LocalRun) throws -> Void
    ) throws {
        let fileLength = try file.sizeOfFileOrDevice()
        let (end, overflow) = sourceOffset.addingReportingOverflow(length)
        if overflow { throw DiskImportError.corrupt("source range at offset \(sourceOffset) of \(length) bytes overflows") }
        let inFile = sourceOffset >= fileLength ? 0 : min(end, fileLength) - sourceOffset

        var done: UInt64 = 0
        while done < inFile {
            let count = min(windowSize, inFile - done)
            try withMappedBytes(file: file, offset: sourceOffset + done, length: count) { bytes in
                let base = guestOffset + done
                try ZeroRuns.forEach(in: bytes, offset: base, minimumZeroRun: minimumZeroRun) { range, isZero in
                    try body(LocalRun(
                        sourceOffset: sourceOffset + done + UInt64(range.lowerBound), guestOffset: base + UInt64(range.lowerBound),
                        length: UInt64(range.count), data: isZero ? nil : UnsafeRawBufferPointer(rebasing: bytes[range])))
                }
            }
            done += count
        }
        if inFile < length {
            try body(LocalRun(sourceOffset: sourceOffset + inFile, guestOffset: guestOffset + inFile, length: length - inFile, data: nil))
        }
    }

    /// Gives `body` the `length` bytes of `file` at `offset`: mapped (mmap(2), munmap(2) after), or read into a
    /// buffer with pread(2) when the range is small or the file cannot be mapped.
    private static func withMappedBytes(
        file: FileDescriptor, offset: UInt64, length: UInt64, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let slack = offset % pageSize
        // Never mapped from FUSE: a read error there is retried forever inside MAP_POPULATE (issue 18, faultfs).
        if length >= smallRange, clinux_is_fuse(file.rawValue) == 0, let base = clinux_map_readonly(file.rawValue, offset - slack, length + slack, 1) {
            defer { _ = clinux_unmap(base, length + slack) }
            try body(UnsafeRawBufferPointer(start: UnsafeRawPointer(base) + Int(slack), count: Int(length)))
            return
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(length), alignment: 4096)
        defer { buffer.deallocate() }
        var filled = 0
        while filled < buffer.count {
            let n = pread(file.rawValue, buffer.baseAddress! + filled, buffer.count - filled, off_t(offset) + off_t(filled))
            if n < 0 {
                if errno == EINTR { continue }
                throw DiskImportError.io("read", "source descriptor \(file.rawValue) at offset \(offset)", Errno(rawValue: errno))
            }
            if n == 0 {
                // The source shrank under us: what is gone reads as zeros, as it would have at the start.
                (buffer.baseAddress! + filled).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - filled)
                break
            }
            filled += n
        }
        try body(UnsafeRawBufferPointer(buffer))
    }
}
