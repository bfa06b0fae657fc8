import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Whole-tree operations below a directory descriptor that never follow a symbolic link, for trees whose names and
/// links came from an archive: openat(2) with O_NOFOLLOW, unlinkat(2), fsync(2). Names are kept as the kernel's
/// bytes (NUL-terminated `CChar` arrays), since an archive's names need not be UTF-8.
enum DirectoryTree {
    typealias Name = [CChar]

    static func name(_ text: String) -> Name { Array(text.utf8CString) }

    static func display(_ name: Name) -> String {
        String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes `name` in the directory `parent` and, for a directory, everything below it. A missing name is fine.
    static func remove(_ name: Name, in parent: Int32, displayPath: String) throws {
        if unlinkat(parent, name, 0) == 0 { return }
        switch errno {
        case ENOENT: return
        case EISDIR, EPERM: break  // a directory: empty it first
        case let e: throw DiskImportError.io("remove", displayPath, Errno(rawValue: e))
        }
        try withDirectory(name, in: parent, displayPath: displayPath) { fd in
            for child in try entries(of: fd, displayPath: displayPath) {
                try remove(child, in: fd, displayPath: displayPath + "/" + display(child))
            }
        }
        if unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT {
            throw DiskImportError.io("remove directory", displayPath, Errno(rawValue: errno))
        }
    }

    /// fsync(2) of every regular file and directory below `directory` and of `directory` itself, so an extracted
    /// tree is on stable storage before the import reports success.
    static func syncAll(_ directory: Int32, displayPath: String) throws {
        for child in try entries(of: directory, displayPath: displayPath) {
            let path = displayPath + "/" + display(child)
            var st = Glibc.stat()
            if fstatat(directory, child, &st, AT_SYMLINK_NOFOLLOW) != 0 {
                throw DiskImportError.io("stat", path, Errno(rawValue: errno))
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                try withDirectory(child, in: directory, displayPath: path) { try syncAll($0, displayPath: path) }
            case S_IFREG:
                let fd = openat(directory, child, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                if fd < 0 { throw DiskImportError.io("open", path, Errno(rawValue: errno)) }
                defer { close(fd) }
                if fsync(fd) != 0 { throw DiskImportError.io("fsync", path, Errno(rawValue: errno)) }
            default:
                break  // links live in their directory, synced below
            }
        }
        if fsync(directory) != 0 { throw DiskImportError.io("fsync", displayPath, Errno(rawValue: errno)) }
    }

    /// Opens the directory `name` in `parent` (O_DIRECTORY | O_NOFOLLOW) for the duration of `body`.
    static func withDirectory<T>(_ name: Name, in parent: Int32, displayPath: String, _ body: (Int32) throws -> T) throws -> T {
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw DiskImportError.io("open directory", displayPath, Errno(rawValue: errno)) }
        defer { close(fd) }
        return try body(fd)
    }

    /// The names in an open directory (without . and ..), read through a duplicate descriptor so `directory`
    /// stays open and usable.
    static func entries(of directory: Int32, displayPath: String) throws -> [Name] {
        let copy = dup(directory)
        if copy < 0 { throw DiskImportError.io("dup", displayPath, Errno(rawValue: errno)) }
        guard let stream = fdopendir(copy) else {
            let e = errno
            close(copy)
            throw DiskImportError.io("read directory", displayPath, Errno(rawValue: e))
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [Name] = []
        while let entry = readdir(stream) {
            let name: Name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                raw.prefix { $0 != 0 }.map { CChar(bitPattern: $0) } + [0]
            }
            if name != [0x2e, 0] && name != [0x2e, 0x2e, 0] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }
}
