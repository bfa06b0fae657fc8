import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// An open directory that names are resolved against one component at a time (openat(2) and friends with
/// O_NOFOLLOW): a symlink is never followed, so nothing planted earlier can redirect a write elsewhere.
final class DirectoryHandle {
    let fd: Int32
    /// For messages: where this directory is, as the archive named it.
    let displayPath: String

    private init(fd: Int32, displayPath: String) {
        self.fd = fd
        self.displayPath = displayPath
    }

    deinit { close(fd) }

    /// Opens a directory given by the user (open(2) with O_DIRECTORY); the archive never names this one.
    static func open(path: String) throws -> DirectoryHandle {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw DiskImportError.io("open directory", path, Errno(rawValue: errno)) }
        return DirectoryHandle(fd: fd, displayPath: path)
    }

    /// The subdirectory `name` (openat with O_DIRECTORY | O_NOFOLLOW), made first with mkdirat when `create` is set.
    func subdirectory(_ name: [UInt8], create: Bool, permissions: mode_t = 0o755) throws -> DirectoryHandle {
        let display = child(name)
        if create {
            let rc = withCString(name) { mkdirat(fd, $0, permissions) }
            if rc != 0 && errno != EEXIST { throw DiskImportError.io("mkdir", display, Errno(rawValue: errno)) }
        }
        let sub = withCString(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if sub < 0 {
            let e = Errno(rawValue: errno)
            if e == .tooManySymbolicLinkLevels || e == .notDirectory {
                throw DiskImportError.corrupt("tar: \(display) is a symlink or not a directory; refusing to write through it")
            }
            throw DiskImportError.io("open directory", display, e)
        }
        return DirectoryHandle(fd: sub, displayPath: display)
    }

    /// Removes a non-directory entry `name` if there is one (unlinkat, which never follows a symlink).
    func removeFile(_ name: [UInt8]) throws {
        let rc = withCString(name) { unlinkat(fd, $0, 0) }
        if rc != 0 && errno != ENOENT {
            let e = Errno(rawValue: errno)
            if e == .isDirectory { throw DiskImportError.corrupt("tar: \(child(name)) is a directory and cannot be replaced by a file") }
            throw DiskImportError.io("remove", child(name), e)
        }
    }

    /// Creates the regular file `name`, which must not exist (O_CREAT | O_EXCL | O_NOFOLLOW): a fresh inode, never a link.
    func createFile(_ name: [UInt8], permissions: mode_t) throws -> Int32 {
        let file = withCString(name) { openat(fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, permissions) }
        if file < 0 { throw DiskImportError.io("create", child(name), Errno(rawValue: errno)) }
        return file
    }

    /// Whether `name` exists and is a symlink (fstatat with AT_SYMLINK_NOFOLLOW).
    func isSymlink(_ name: [UInt8]) -> Bool {
        var st = Glibc.stat()
        let rc = withCString(name) { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
        return rc == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }

    /// symlinkat(2): the link `name` pointing at `target` (the caller has checked the target).
    func createSymlink(_ name: [UInt8], target: [UInt8]) throws {
        let rc = withCString(target) { t in withCString(name) { symlinkat(t, fd, $0) } }
        if rc != 0 { throw DiskImportError.io("symlink", child(name), Errno(rawValue: errno)) }
    }

    /// linkat(2) without AT_SYMLINK_FOLLOW: `name` here becomes another name of `existing` in `directory`.
    func createHardlink(_ name: [UInt8], to existing: [UInt8], in directory: DirectoryHandle) throws {
        let rc = withCString(existing) { e in withCString(name) { linkat(directory.fd, e, fd, $0, 0) } }
        if rc != 0 { throw DiskImportError.io("link", child(name), Errno(rawValue: errno)) }
    }

    private func child(_ name: [UInt8]) -> String { displayPath + "/" + ArchivePath.display(name) }
}

/// Calls `body` with `bytes` as a NUL-terminated C string.
func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    (bytes + [0]).withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
}
