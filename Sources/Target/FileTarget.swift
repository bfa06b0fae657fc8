import CLinux
import DiskImportCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A sparse regular file written through a temporary name next to it and renamed into place only when complete,
/// so an interrupted import never leaves a file that looks finished (or, where that cannot be done, written in place
/// as qemu-img does: `FilePlacement`).
///
/// Zero blocks (4 KiB, aligned in the guest) are never written: they stay holes, so the file allocates no more than
/// `qemu-img convert -O raw` would. Ranges of local files are shared (reflink) where the filesystem can, else mapped,
/// scanned for zero blocks, and only their data stored. Writes to disjoint ranges may come from several threads.
public final class FileTarget: DiskTarget, @unchecked Sendable {
    public var kind: TargetKind { .file }
    /// The path the user named.
    public let path: String
    /// Where the file ends up: `path`, or what it links to.
    public var finalPath: String { placement.finalPath }
    /// The file being written until commit; nil when the target is written in place.
    public var temporaryPath: String? { placement.temporaryPath }
    /// No guest byte may land at or past this offset.
    public let capacity: UInt64

    private let fd: FileDescriptor
    private let space: SpacePlan
    private let preallocation: PreallocationMode
    private let progress: TransferProgress
    private let reflink: Reflink
    private let placement: FilePlacement
    /// With `--reference`: stores data runs by cloning what the reference volumes already hold.
    private let sharing: ReferenceSharing?
    private let state = Mutex(State.writing)
    /// Whether the import ends with an fsync, and the bytes stored since writeback was last started.
    private let writeBackEarly: Bool
    private let unsynced = Atomic<UInt64>(0)

    private enum State { case writing, finished, committed, aborted }

    /// Data runs at least this long are copied with copy_file_range(2) from a local source; shorter ones are
    /// written from the mapping with pwrite(2), which costs less per call.
    static let kernelCopyThreshold: UInt64 = 1 << 20

    /// With `writeBackEarly`, writeback of the file starts whenever this much more has been stored. The page cache
    /// otherwise holds it all (the kernel starts on its own only at 10% of RAM dirty), and the final fsync writes it
    /// out while nothing else runs. Measured on a 4 GiB qcow2.xz (1.1 GB of data, ext4): fsync 1.3 s without, 0.7 s
    /// every 32 MiB, 0.2-0.3 s every 8 MiB; the transfer itself took 6.05 s in all three.
    static let writebackInterval: UInt64 = 8 << 20

    /// Creates the temporary file for `finalPath` (what the user's `path` resolves to), sized to `virtualSize`
    /// when it is known, all holes. `space` caps the size and decides the final length; `blockSize` is the
    /// filesystem's (f_bsize), the alignment of reflink clones.
    public init(path: String, finalPath: String, virtualSize: UInt64?, space: SpacePlan, blockSize: UInt64,
                preallocation: PreallocationMode, progress: TransferProgress, writeBackEarly: Bool = false,
                references: ReferenceIndex? = nil) throws {
        self.path = path
        self.writeBackEarly = writeBackEarly
        self.space = space
        self.preallocation = preallocation
        self.progress = progress
        capacity = space.capacity(virtualSize: virtualSize)
        let reflink = Reflink(blockSize: blockSize)
        self.reflink = reflink
        sharing = references.map { ReferenceSharing(index: $0, reflink: reflink, progress: progress) }
        placement = try FilePlacement.create(path: path, finalPath: finalPath)
        fd = placement.fd
        do {
            // The file is new and empty. Truncating it to 0 anyway would make ext4 (auto_da_alloc) flush the whole
            // file at close, measured at 80-170 ms per import.
            if let size = virtualSize, size > 0 { try TargetIO.setLength(fd, size, path: path) }
        } catch {
            abort()
            try? fd.close()
            throw error
        }
    }

    deinit {
        abort()
        try? fd.close()
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try TargetIO.checkBounds(offset: offset, length: UInt64(bytes.count), capacity: capacity, path: path)
        var written: UInt64 = 0, holes: UInt64 = 0
        defer { account(written: written, holes: holes) }
        try ZeroRuns.forEach(in: bytes, offset: offset, minimumZeroRun: 1) { range, isZero in
            if isZero {
                holes += UInt64(range.count)
            } else {
                try store(UnsafeRawBufferPointer(rebasing: bytes[range]), at: offset + UInt64(range.lowerBound))
                written += UInt64(range.count)
            }
        }
    }

    /// The file starts as holes and zero ranges are never written, so there is nothing to do but count.
    public func writeZeros(at offset: UInt64, length: UInt64) throws {
        try TargetIO.checkBounds(offset: offset, length: length, capacity: capacity, path: path)
        progress.addHoleBytes(length)
    }

    /// Shares the blocks when the filesystem can (reflink: the range's source and guest offsets must be aligned
    /// alike), else copies only the data blocks. Zero blocks stay holes in either copy path.
    public func copy(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws {
        try TargetIO.checkBounds(offset: offset, length: length, capacity: capacity, path: path)
        let block = reflink.blockSize
        if sourceOffset % block == offset % block {
            let head = min(length, (block - offset % block) % block)
            let middle = (length - head) / block * block
            if middle > 0, try reflink.clone(from: file, sourceOffset: sourceOffset + head, to: fd, targetOffset: offset + head,
                                              length: middle, targetPath: path) == .cloned {
                progress.addWrittenBytes(middle)
                progress.addClonedBytes(middle)
                try copyData(from: file, sourceOffset: sourceOffset, to: offset, length: head)
                let tail = head + middle
                try copyData(from: file, sourceOffset: sourceOffset + tail, to: offset + tail, length: length - tail)
                return
            }
        }
        try copyData(from: file, sourceOffset: sourceOffset, to: offset, length: length)
    }

    /// Copies the data blocks of a local range, skipping its zero blocks.
    private func copyData(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws {
        guard length > 0 else { return }
        var written: UInt64 = 0, holes: UInt64 = 0
        defer { account(written: written, holes: holes) }
        try LocalRangeScan.forEachRun(file: file, sourceOffset: sourceOffset, guestOffset: offset, length: length,
                                      minimumZeroRun: 1) { run in
            guard let data = run.data else {
                holes += run.length
                return
            }
            var stored: UInt64 = 0
            if run.length >= Self.kernelCopyThreshold, sharing == nil {
                stored = try kernelCopy(from: file, sourceOffset: run.sourceOffset, to: run.guestOffset, length: run.length)
            }
            if stored < run.length {
                try store(UnsafeRawBufferPointer(rebasing: data[Int(stored)...]), at: run.guestOffset + stored)
            }
            written += run.length
        }
    }

    /// Stores guest data: written, or cloned from the references where they hold the same blocks.
    private func store(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        if let sharing {
            try sharing.store(bytes, at: offset, into: fd, path: path)
        } else {
            try TargetIO.writeAll(fd, bytes, at: offset, path: path)
        }
    }

    /// copy_file_range(2) of as much of the range as the kernel will copy; returns how much it copied. Stops early
    /// (without an error) where the kernel cannot copy between these files (EXDEV, EINVAL, EOPNOTSUPP).
    private func kernelCopy(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws -> UInt64 {
        var input = Int64(sourceOffset), output = Int64(offset)
        var done: UInt64 = 0
        while done < length {
            let n = clinux_copy_file_range(file.rawValue, &input, fd.rawValue, &output, length - done)
            if n > 0 {
                done += UInt64(n)
                continue
            }
            if n == 0 { return done }
            let e = Errno(rawValue: errno)
            switch e {
            case .interrupted: continue
            case .improperLink, .invalidArgument, .notSupported, .badFileDescriptor, .noFunction: return done
            default: throw TargetIO.failure("copy_file_range into", path: path, errno: e, offset: offset + done, length: length - done)
            }
        }
        return done
    }

    private func account(written: UInt64, holes: UInt64) {
        if written > 0 {
            progress.addWrittenBytes(written)
            startWritebackEvery(written)
        }
        if holes > 0 { progress.addHoleBytes(holes) }
    }

    /// Starts writeback of the file (sync_file_range(2), not waiting) each time `writebackInterval` more bytes have
    /// been stored, so that the disk writes while the import decodes. Best effort: the fsync at the end is what counts.
    private func startWritebackEvery(_ written: UInt64) {
        guard writeBackEarly else { return }
        let total = unsynced.add(written, ordering: .relaxed).newValue
        if total >= Self.writebackInterval, unsynced.compareExchange(expected: total, desired: 0, ordering: .relaxed).exchanged {
            _ = clinux_start_writeback(fd.rawValue)
        }
    }

    /// Sets the final length (the guest size, grown by the space rules) and preallocates it as asked.
    public func finish(guestSize: UInt64) throws -> TargetOutcome {
        try state.withLock { state in
            guard state == .writing else { throw DiskImportError.usage("\(path): target finished twice") }
            state = .finished
        }
        try TargetIO.checkBounds(offset: 0, length: guestSize, capacity: capacity, path: path)
        let length = space.finalLength(guestSize: guestSize)
        try TargetIO.setLength(fd, length, path: path)
        let outcome = try Preallocator.apply(preallocation, fd: fd, length: length, path: path, progress: progress)
        return TargetOutcome(kind: .file, length: length, preallocation: outcome)
    }

    /// fsync(2)s the file, renames it to its final name (unless written in place), and fsyncs the directory so the
    /// rename is durable too.
    public func commit(sync: Bool) throws {
        try state.withLock { state in
            guard state == .finished else { throw DiskImportError.usage("\(path): target committed before it was finished") }
            try placement.publish(sync: sync, path: path)
            state = .committed
        }
        if sync { Self.syncDirectory(of: finalPath) }
    }

    /// Removes the temporary file (empties a file written in place) unless it was committed.
    public func abort() {
        state.withLock { state in
            guard state != .committed, state != .aborted else { return }
            placement.discard()
            state = .aborted
        }
    }

    /// fsync(2) of the directory holding `path`; best effort, as some filesystems refuse to sync directories.
    private static func syncDirectory(of path: String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { return }
        _ = fsync(dirfd)
        close(dirfd)
    }
}
