import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The one-controller-per-storage-directory rule: an exclusive flock(2) on `STORAGE/.lock`, held for the life of
/// this object. The kernel drops it when the process dies, so a killed controller never leaves a stale lock.
public final class StorageLock: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    /// Takes the lock without waiting; throws a clear error naming the holder's pid when another process has it.
    public init(storage: String) throws {
        path = "\(storage)/.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DiskImportError.io("open", path, Errno(rawValue: errno)) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = Errno(rawValue: errno)
            let holder = (try? FileSystem.readText(path))?.trimmingSpaces() ?? ""
            close(fd)
            if e == .wouldBlock {
                throw DiskImportError.usage(
                    "\(storage) is in use by another diskimport cron controller\(holder.isEmpty ? "" : " (pid \(holder))"); lock \(path)")
            }
            throw DiskImportError.io("lock", path, e)
        }
        // Record who holds it, for the message above; the lock itself is the flock, not this text.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
