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
        return FilesystemInfo(availableBytes: available, blockSize: max(blockSize, 512), type: type)
    }
}

/// The space rules applied to one file target, decided before any byte is written (DESIGN.md section 5).
public struct SpacePlan: Sendable {
    /// Free space on the filesystem when the import started.
    public let free: UInt64
    /// The requested disk size (`--size`, IMPORTER_IMAGE_SIZE), if any.
    public let requested: UInt64?
    public let overhead: FilesystemOverhead
    /// `min(free, requested)`.
    public let available: UInt64
    /// `usable(available, overhead)`: the largest disk this target may hold.
    public let usable: UInt64

    public init(free: UInt64, requested: UInt64?, overhead: FilesystemOverhead) {
        self.free = free
        self.requested = requested
        self.overhead = overhead
        available = min(free, requested ?? free)
        usable = SpaceRules.usable(available: available, overhead: overhead)
    }

    /// Refuses an image whose virtual size does not fit, naming both numbers; `target` is the path for the message.
    public func check(virtualSize: UInt64, target: String) throws {
        guard virtualSize > usable else { return }
        let limitedBy = requested.map { $0 < free ? "the requested size \($0) bytes" : "\(free) bytes free" } ?? "\(free) bytes free"
        throw DiskImportError(.space, """
            image virtual size \(virtualSize) bytes (\(Quantity.describe(virtualSize))) is larger than the usable space \
            \(usable) bytes (\(Quantity.describe(usable))) for \(target): \(limitedBy), filesystem overhead \(overhead)
            """)
    }

    /// How far the target may grow while the image size is still unknown (a raw stream): never past `usable`,
    /// which also stops a decompression bomb.
    public func capacity(virtualSize: UInt64?) -> UInt64 { virtualSize ?? usable }

    /// The final file length for a disk of `guestSize` bytes: grown (never shrunk) to `min(usable, requested)`
    /// when a size was requested.
    public func finalLength(guestSize: UInt64) -> UInt64 {
        guard let requested else { return guestSize }
        return max(guestSize, min(usable, requested))
    }
}
