import DiskImportCore
import SystemPackage
import Target

#if canImport(Glibc)
import Glibc
#endif

/// The few file operations the controller's state needs, as thin wrappers over the system calls, each error naming
/// the path.
enum FileSystem {
    /// State and configuration files are small; anything bigger is not one of ours.
    static let maximumTextSize = 16 << 20

    /// Reads a whole text file (open, fstat, read).
    static func readText(_ path: String) throws -> String {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch let errno as Errno {
            throw DiskImportError.io("open", path, errno)
        }
        defer { try? fd.close() }
        var st = Glibc.stat()
        guard fstat(fd.rawValue, &st) == 0 else { throw DiskImportError.io("stat", path, Errno(rawValue: errno)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw DiskImportError.usage("\(path) is not a regular file") }
        guard st.st_size <= maximumTextSize else {
            throw DiskImportError(.limit, "\(path) is \(st.st_size) bytes; at most \(maximumTextSize) are read")
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = try bytes.withUnsafeMutableBytes { buffer in
                do {
                    return try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), retryOnInterrupt: true)
                } catch let errno as Errno {
                    throw DiskImportError.io("read", path, errno)
                }
            }
            if n == 0 { break }
            done += n
        }
        return String(decoding: bytes[..<done], as: UTF8.self)
    }

    /// Replaces `path` with `bytes` so that a reader sees the old or the new content, never a mix, and a crash
    /// never leaves a torn file: write a temporary file in the same directory, fsync it, rename(2) it over the old
    /// one, then fsync the directory so the rename itself is durable.
    /// A `writeAtomically` temporary (`.NAME.tmp-PID-N`) of another process than this one.
    static func isStaleTemporary(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard name.hasPrefix("."), parts.count >= 3, parts[parts.count - 3].hasSuffix(".tmp"),
              let pid = Int32(parts[parts.count - 2]), UInt32(parts[parts.count - 1]) != nil else { return false }
        return pid != getpid()
    }

    static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        let (directory, name) = split(path)
        let temporary = "\(directory)/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Armed before the file exists, so a SIGTERM anywhere from here to the rename leaves no temporary behind.
        let cleanup = try InterruptCleanup(path: temporary)
        defer { cleanup.disarm() }
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
                                         permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let errno as Errno {
            throw DiskImportError.io("create", temporary, errno)
        }
        do {
            try bytes.withUnsafeBytes { try fd.writeAll($0, at: 0, path: temporary) }
            if fsync(fd.rawValue) != 0 { throw DiskImportError.io("fsync", temporary, Errno(rawValue: errno)) }
            try fd.close()
        } catch {
            try? fd.close()
            unlink(temporary)
            throw error
        }
        if rename(temporary, path) != 0 {
            let e = Errno(rawValue: errno)
            unlink(temporary)
            throw DiskImportError.io("rename \(temporary) to", path, e)
        }
        try syncDirectory(directory)
    }

    /// fsync(2) on a directory, making the creations, renames and removals in it durable.
    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw DiskImportError.io("open", path, Errno(rawValue: errno)) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw DiskImportError.io("fsync", path, Errno(rawValue: errno)) }
    }

    /// mkdir -p with mode 0755.
    static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 {
                let e = Errno(rawValue: errno)
                if e == .fileExists, isDirectory(prefix) { continue }
                throw DiskImportError.io("mkdir", prefix, e)
            }
        }
    }

    /// The names in a directory (readdir(3)), without `.` and `..`; empty when it does not exist.
    static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            let e = Errno(rawValue: errno)
            if e == .noSuchFileOrDirectory { return [] }
            throw DiskImportError.io("open directory", path, e)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// lstat(2): whether something exists at `path` (a dangling symlink counts).
    static func exists(_ path: String) -> Bool {
        var st = Glibc.stat()
        return lstat(path, &st) == 0
    }

    /// stat(2), following symbolic links.
    static func isDirectory(_ path: String) -> Bool {
        var st = Glibc.stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = Glibc.stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Removes a file, or a directory and everything under it, never following symbolic links; a missing path
    /// is not an error.
    static func removeTree(_ path: String) throws {
        var st = Glibc.stat()
        guard lstat(path, &st) == 0 else {
            let e = Errno(rawValue: errno)
            if e == .noSuchFileOrDirectory { return }
            throw DiskImportError.io("stat", path, e)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try list(path) { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 { throw DiskImportError.io("remove", path, Errno(rawValue: errno)) }
        } else if unlink(path) != 0 {
            let e = Errno(rawValue: errno)
            if e != .noSuchFileOrDirectory { throw DiskImportError.io("remove", path, e) }
        }
    }

    /// Directory and last component of a path.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}
