import CLinux
import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// A local VolumeSnapshot: a reflink clone of a volume's disk (ioctl FICLONE), sharing every extent with it until
/// either is written, made in constant time whatever the size. Only filesystems with reflinks (XFS with
/// `reflink=1`, btrfs) can; elsewhere there is no snapshot, and the cron says so.
enum ReflinkSnapshot {
    /// Clones `source` into a new file `target` (written as `target.tmp`, fsynced, renamed). Throws
    /// `.unsupported` with "snapshots not supported on this storage" when the filesystem cannot share extents.
    static func clone(_ source: String, to target: String, storageClass: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw DiskImportError(.io, "cannot open \(source) to snapshot it: \(String(cString: strerror(errno)))") }
        defer { close(input) }
        let temporary = target + ".tmp"
        unlink(temporary)
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw DiskImportError(.io, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var closed = false
        defer { if !closed { close(output); unlink(temporary) } }
        if clinux_clone_file(input, output) != 0 {
            let code = errno
            if [EOPNOTSUPP, ENOTTY, EINVAL, EXDEV, ENOSYS].contains(code) {
                throw DiskImportError.unsupported("snapshots not supported on this storage: storage class \(storageClass) "
                    + "cannot make reflink clones (FICLONE: \(String(cString: strerror(code))))")
            }
            throw DiskImportError(.io, "snapshot of \(source) (FICLONE): \(String(cString: strerror(code)))")
        }
        guard fsync(output) == 0 else { throw DiskImportError(.io, "fsync \(temporary): \(String(cString: strerror(errno)))") }
        closed = true
        guard close(output) == 0, rename(temporary, target) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw DiskImportError(.io, "cannot finish snapshot \(target): \(message)")
        }
        try FileSystem.syncDirectory(FileSystem.split(target).directory)
    }

    /// Whether `directory`'s filesystem makes reflink clones: clones a one-block file there and removes both.
    /// Asked before an import into a snapshot class, so an import is not wasted on storage that cannot snapshot.
    static func probe(_ directory: String, storageClass: String) throws {
        try FileSystem.makeDirectories(directory)
        let source = "\(directory)/.reflink-probe-\(getpid())"
        let fd = open(source, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DiskImportError(.io, "cannot create \(source): \(String(cString: strerror(errno)))") }
        defer { unlink(source) }
        let block = [UInt8](repeating: 0x5a, count: 4096)
        let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == block.count, synced else { throw DiskImportError(.io, "cannot write \(source)") }
        let target = "\(directory)/.reflink-probe-clone-\(getpid())"
        defer { unlink(target) }
        try clone(source, to: target, storageClass: storageClass)
    }
}
