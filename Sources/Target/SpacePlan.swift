import CLinux
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// What statfs(2) says about the filesystem a target file lives on.
public struct FilesystemInfo: Sendable {
    /// Free bytes available to unprivileged users (f_bavail × f_bsize).
    public var availableBytes: UInt64
    /// The filesystem's size (statvfs(3) f_blocks × f_frsize).
    public var size: UInt64
    /// f_bsize: the allocation unit, and the alignment reflink clones need.
    public var blockSize: UInt64
    /// f_type (EXT4_SUPER_MAGIC, XFS_SUPER_MAGIC …).
    public var type: Int64

    /// statfs(2) of `path`.
    public static func of(_ path: String) throws -> FilesystemInfo {
        var available: UInt64 = 0, blockSize: UInt64 = 0
        var type: Int64 = 0
        if clinux_statfs(path, &available, &type, &blockSize) != 0 {
            throw DiskImportError.io("statfs", path, Errno(rawValue: errno))
        }
        var vfs = Glibc.statvfs()
        let size = statvfs(path, &vfs) == 0 ? UInt64(vfs.f_blocks) * UInt64(vfs.f_frsize) : available
        return FilesystemInfo(availableBytes: available, size: size, blockSize: max(blockSize, 512), type: type)
    }
}

/// The space rules applied to one file target, decided before any byte is written (DESIGN.md section 5).
///
/// Two sets of rules. **qemu-img's** (no overhead): a sparse disk may be larger than the free space, since only its
/// data takes room; the import is refused up front only when the image's data is known and more than the free
/// space; `--size` is the length the disk grows to. **CDI's** (an overhead given): a volume has a fixed size, so
/// the image must fit in `available = min(free, requested)` (pkg/importer/data-processor.go `calculateTargetSize`,
/// then `validate` against it), and with a requested size the disk grows to `min(usable(available, o), requested)`
/// (`ResizeImage`).
public struct SpacePlan: Sendable {
    /// Free space on the filesystem when the import started.
    public let free: UInt64
    /// The filesystem's size: under qemu-img's rules, how large a stream of unknown length may grow without `--size`.
    public let filesystemSize: UInt64
    /// The requested disk size (`--size`, IMPORTER_IMAGE_SIZE), if any.
    public let requested: UInt64?
    /// CDI's rules with this overhead; nil for qemu-img's.
    public let overhead: FilesystemOverhead?
    /// `min(free, requested)`: CDI's `availableSpace`.
    public let available: UInt64
    /// `usable(available, overhead)` under CDI's rules: the most a requested size grows the disk to.
    public let usable: UInt64?

    public init(free: UInt64, requested: UInt64?, overhead: FilesystemOverhead?, filesystemSize: UInt64? = nil) {
        self.free = free
        self.filesystemSize = max(free, filesystemSize ?? free)
        self.requested = requested
        self.overhead = overhead
        let available = min(free, requested ?? free)
        self.available = available
        usable = overhead.map { SpaceRules.usable(available: available, overhead: $0) }
    }

    /// Under CDI's rules, refuses an image whose virtual size is more than the available space, in CDI's words.
    /// qemu-img's rules refuse nothing here: a sparse disk may be larger than the free space.
    public func check(virtualSize: UInt64) throws {
        if overhead != nil, virtualSize > available {
            throw SpaceRules.largerThanAvailable(virtualSize: virtualSize, available: available)
        }
    }

    /// Refuses an image whose data, known before writing, cannot fit in the free space: naming both numbers.
    /// `dataBytes` is what the reader will store (allocated clusters or extents), `target` the path for the message.
    public func check(dataBytes: UInt64, target: String) throws {
        guard dataBytes > free else { return }
        throw DiskImportError(.space, """
            image data \(dataBytes) bytes (\(Quantity.describe(dataBytes))) does not fit in the \(free) bytes \
            (\(Quantity.describe(free))) free for \(target)
            """)
    }

    /// How far the target may grow while the image size is still unknown (a raw stream), which also stops a
    /// decompression bomb. Under CDI's rules the available space: a larger image is refused. Under qemu-img's the
    /// requested size, else the filesystem's size: a sparse disk may outgrow the free space, but one larger than
    /// its whole filesystem, from a stream that never said its length, takes `--size` to allow.
    public func capacity(virtualSize: UInt64?) -> UInt64 {
        virtualSize ?? (overhead == nil ? requested ?? filesystemSize : available)
    }

    /// The final file length for a disk of `guestSize` bytes, grown (never shrunk) to the requested size: under
    /// CDI's rules to `min(usable, requested)`, under qemu-img's to `requested`.
    public func finalLength(guestSize: UInt64) -> UInt64 {
        guard let requested else { return guestSize }
        return max(guestSize, min(usable ?? requested, requested))
    }
}
