import CLinux
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Block-device ioctls.
public enum BlockDevice {
    /// ioctl(BLKGETSIZE64).
    public static func size(of fd: FileDescriptor) throws -> UInt64 {
        var size: UInt64 = 0
        if clinux_block_device_size(fd.rawValue, &size) != 0 {
            throw DiskImportError.io("BLKGETSIZE64", "descriptor \(fd.rawValue)", Errno(rawValue: errno))
        }
        return size
    }
}
