import CLinux
import DiskImportCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Sharing a source file's blocks with the target instead of copying them (ioctl FICLONERANGE), on filesystems
/// that support it: XFS with reflink=1, btrfs. Costs a metadata update whatever the length (~1 ms for 880 MB,
/// against ~1 s for qemu-img's copy), so it is tried first for every aligned range.
final class Reflink: Sendable {
    /// f_bsize of the target's filesystem: clones must start and end on these boundaries.
    let blockSize: UInt64
    /// Source devices (st_dev) whose clone into this target failed for good: other filesystem, no reflink support.
    private let refused = Mutex<Set<UInt64>>([])

    init(blockSize: UInt64) { self.blockSize = blockSize }

    enum Outcome {
        /// The whole range now shares the source's blocks.
        case cloned
        /// Not possible here (alignment, filesystem, device): copy it instead.
        case notPossible
    }

    /// Clones `length` bytes of `source` at `sourceOffset` to `target` at `targetOffset` when the range is aligned
    /// and the filesystem can; throws only for real failures (ENOSPC, EIO).
    func clone(from source: FileDescriptor, sourceOffset: UInt64, to target: FileDescriptor, targetOffset: UInt64,
               length: UInt64, targetPath: String) throws -> Outcome {
        guard length > 0, sourceOffset % blockSize == 0, targetOffset % blockSize == 0, length % blockSize == 0 else {
            return .notPossible
        }
        guard let device = Self.device(of: source), !refused.withLock({ $0.contains(device) }) else { return .notPossible }
        if clinux_clone_range(source.rawValue, sourceOffset, length, target.rawValue, targetOffset) == 0 { return .cloned }
        let e = Errno(rawValue: errno)
        switch e {
        case .notSupported, .improperLink, .inappropriateIOCTLForDevice, .badFileDescriptor, .notPermitted,
             .permissionDenied, .isDirectory:
            // ENOTSUP/EOPNOTSUPP (no reflink), EXDEV (other filesystem), ENOTTY (no such ioctl), EPERM/EACCES/EBADF
            // (not allowed on these descriptors): none will change for this source.
            refused.withLock { _ = $0.insert(device) }
            return .notPossible
        case .invalidArgument, .interrupted, .resourceBusy, .textFileBusy:
            // EINVAL: this range (past the source's end, unaligned for the filesystem); EBUSY/ETXTBSY: a swap file
            // or a layout lease. A plain copy still works.
            return .notPossible
        default:
            throw TargetIO.failure("clone into", path: targetPath, errno: e, offset: targetOffset, length: length)
        }
    }

    /// st_dev of an open file, or nil when fstat(2) fails (the copy that follows will report that).
    private static func device(of fd: FileDescriptor) -> UInt64? {
        var st = Glibc.stat()
        return fstat(fd.rawValue, &st) == 0 ? UInt64(st.st_dev) : nil
    }
}
