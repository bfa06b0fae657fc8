import CLinux
import DiskImportCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// An existing block device written in place: never truncated, never renamed, never left with old data.
///
/// Every range of the disk that the reader does not store as data ends up zeroed: zero ranges and long zero runs
/// inside data with ioctl(BLKZEROOUT) (which the kernel turns into WRITE ZEROES without unmapping, or writes of
/// zero pages), and at `finish` every range nobody mentioned, found from the coverage the writes recorded.
/// The device is opened with O_EXCL, so a mounted or otherwise claimed device is refused. Data goes through
/// `DirectWriter` (O_DIRECT).
public final class BlockDeviceTarget: DiskTarget, @unchecked Sendable {
    public var kind: TargetKind { .blockDevice }
    public let path: String
    /// BLKGETSIZE64.
    public let deviceSize: UInt64

    private let fd: FileDescriptor
    private let writer: DirectWriter
    private let preallocation: PreallocationMode
    private let progress: TransferProgress
    private let coverage = Mutex(CoverageSet())
    private let zeroOutWorks = Atomic<Bool>(true)

    /// Zero runs inside data shorter than this are written with their neighbours: one ioctl per short run costs
    /// more than writing it (scripts/bench-target measures both).
    static let minimumZeroOutRun = 1 << 20
    /// BLKZEROOUT ranges are aligned to this (a page, and a multiple of any logical sector size up to 4 KiB);
    /// unaligned edges are written.
    static let zeroOutAlignment: UInt64 = 4096

    /// Opens `path` for writing. An image of `virtualSize` bytes larger than the device is refused here, before
    /// any byte is written.
    public init(path: String, virtualSize: UInt64?, preallocation: PreallocationMode, progress: TransferProgress) throws {
        self.path = path
        self.preallocation = preallocation
        self.progress = progress
        let raw = open(path, O_RDWR | O_EXCL | O_CLOEXEC)
        if raw < 0 {
            let e = Errno(rawValue: errno)
            if e == .resourceBusy {
                throw DiskImportError(.io, "block device \(path) is in use (mounted, or claimed by another program)", errno: e)
            }
            throw DiskImportError.io("open block device", path, e)
        }
        fd = FileDescriptor(rawValue: raw)
        writer = DirectWriter(buffered: fd, path: path)
        do {
            deviceSize = try BlockDevice.size(of: fd)
        } catch {
            try? fd.close()
            throw error
        }
        if let virtualSize, virtualSize > deviceSize {
            try? fd.close()
            throw DiskImportError(.space, """
                image virtual size \(virtualSize) bytes (\(Quantity.describe(virtualSize))) is larger than block device \
                \(path): \(deviceSize) bytes (\(Quantity.describe(deviceSize)))
                """)
        }
    }

    deinit { try? fd.close() }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try checkBounds(offset: offset, length: UInt64(bytes.count))
        var written: UInt64 = 0
        defer { if written > 0 { progress.addWrittenBytes(written) } }
        try ZeroRuns.forEach(in: bytes, offset: offset, minimumZeroRun: Self.minimumZeroOutRun) { range, isZero in
            let at = offset + UInt64(range.lowerBound)
            if isZero {
                try zeroOut(at: at, length: UInt64(range.count))
            } else {
                try writer.store(UnsafeRawBufferPointer(rebasing: bytes[range]), at: at)
                written += UInt64(range.count)
            }
        }
        cover(offset, UInt64(bytes.count))
    }

    public func writeZeros(at offset: UInt64, length: UInt64) throws {
        try checkBounds(offset: offset, length: length)
        try zeroOut(at: offset, length: length)
        cover(offset, length)
    }

    /// Block devices take no copy_file_range(2) or reflink: the range is mapped, scanned and written.
    public func copy(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws {
        try checkBounds(offset: offset, length: length)
        var written: UInt64 = 0
        defer { if written > 0 { progress.addWrittenBytes(written) } }
        try LocalRangeScan.forEachRun(file: file, sourceOffset: sourceOffset, guestOffset: offset, length: length,
                                      minimumZeroRun: Self.minimumZeroOutRun) { run in
            if let data = run.data {
                try writer.store(data, at: run.guestOffset)
                written += run.length
            } else {
                try zeroOut(at: run.guestOffset, length: run.length)
            }
        }
        cover(offset, length)
    }

    /// Zeroes every range of `[0, guestSize)` that no write covered. The rest of the device is left alone.
    public func finish(guestSize: UInt64) throws -> TargetOutcome {
        try checkBounds(offset: 0, length: guestSize)
        for gap in coverage.withLock({ $0.gaps(in: 0..<guestSize) }) {
            try zeroOut(at: gap.lowerBound, length: UInt64(gap.count))
        }
        return TargetOutcome(kind: .blockDevice, length: guestSize,
                             preallocation: PreallocationOutcome(mode: preallocation, method: preallocation == .off ? .none : .device))
    }

    /// fsync(2): the data and the zeroed ranges reach the device.
    public func commit(sync: Bool) throws {
        if sync { try writer.sync() }
    }

    /// Nothing to undo: the device keeps what was written.
    public func abort() {}

    private func checkBounds(offset: UInt64, length: UInt64) throws {
        let (end, overflow) = offset.addingReportingOverflow(length)
        if overflow || end > deviceSize {
            throw DiskImportError(.space, """
                image does not fit block device \(path): \(length) bytes at offset \(offset) go past its \(deviceSize) bytes
                """)
        }
    }

    private func cover(_ offset: UInt64, _ length: UInt64) {
        coverage.withLock { $0.insert(offset..<offset + length) }
    }

    /// Makes `[offset, offset + length)` read as zeros: ioctl(BLKZEROOUT) for the aligned middle, pwrite(2) of zeros
    /// for unaligned edges, and for everything when the device refuses the ioctl.
    private func zeroOut(at offset: UInt64, length: UInt64) throws {
        let alignment = Self.zeroOutAlignment
        let start = min(offset + length, (offset + alignment - 1) / alignment * alignment)
        let end = max(start, (offset + length) / alignment * alignment)
        if start > offset { try writeZeroBytes(at: offset, length: start - offset) }
        if end > start {
            if zeroOutWorks.load(ordering: .relaxed) {
                if clinux_block_zero_out(fd.rawValue, start, end - start) == 0 {
                    progress.addHoleBytes(end - start)
                } else {
                    let e = Errno(rawValue: errno)
                    guard [.notSupported, .inappropriateIOCTLForDevice, .invalidArgument].contains(e) else {
                        throw TargetIO.failure("BLKZEROOUT", path: path, errno: e, offset: start, length: end - start)
                    }
                    zeroOutWorks.store(false, ordering: .relaxed)
                    try writeZeroBytes(at: start, length: end - start)
                }
            } else {
                try writeZeroBytes(at: start, length: end - start)
            }
        }
        if offset + length > end { try writeZeroBytes(at: end, length: offset + length - end) }
    }

    /// pwrite(2) of zeros, a MiB at a time.
    private func writeZeroBytes(at offset: UInt64, length: UInt64) throws {
        var done: UInt64 = 0
        while done < length {
            let count = Int(min(UInt64(ZeroPage.size), length - done))
            try writer.store(UnsafeRawBufferPointer(rebasing: ZeroPage.buffer[..<count]), at: offset + done)
            done += UInt64(count)
        }
        progress.addWrittenBytes(length)
    }
}
