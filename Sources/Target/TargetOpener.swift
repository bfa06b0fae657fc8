import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// What the importer knows about the disk before writing it.
public struct TargetOptions: Sendable {
    /// The disk's size when the reader knows it up front; nil for a raw stream of unknown length.
    public var virtualSize: UInt64?
    /// `--size` / IMPORTER_IMAGE_SIZE.
    public var requestedSize: UInt64?
    public var overhead: FilesystemOverhead
    public var preallocation: PreallocationMode
    /// The import ends with an fsync: a file target starts writing its data back as it goes (see `FileTarget`).
    public var durable: Bool

    public init(virtualSize: UInt64?, requestedSize: UInt64? = nil, overhead: FilesystemOverhead = .standard,
                preallocation: PreallocationMode = .off, durable: Bool = false) {
        self.virtualSize = virtualSize
        self.requestedSize = requestedSize
        self.overhead = overhead
        self.preallocation = preallocation
        self.durable = durable
    }
}

/// Picks and opens the target for a path: an existing block device is written in place; a regular file, or a new
/// name in an existing directory, becomes a `FileTarget` under the space rules; anything else is refused.
public enum TargetOpener {
    public static func open(path: String, options: TargetOptions, progress: TransferProgress) throws -> DiskTarget {
        var st = Glibc.stat()
        if lstat(path, &st) != 0 {
            let e = Errno(rawValue: errno)
            guard e == .noSuchFileOrDirectory || e == .notDirectory else { throw DiskImportError.io("stat target", path, e) }
            try checkDirectory(of: path)
            return try openFile(path: path, finalPath: path, options: options, progress: progress)
        }
        var finalPath = path
        if (st.st_mode & S_IFMT) == S_IFLNK {
            guard stat(path, &st) == 0, let resolved = realPath(path) else {
                throw DiskImportError.usage("target \(path) is a symbolic link to nothing")
            }
            finalPath = resolved
        }
        switch st.st_mode & S_IFMT {
        case S_IFBLK:
            return try BlockDeviceTarget(path: path, virtualSize: options.virtualSize, preallocation: options.preallocation,
                                         progress: progress)
        case S_IFREG:
            return try openFile(path: path, finalPath: finalPath, options: options, progress: progress)
        case S_IFDIR:
            var directory = Substring(path)
            while directory.count > 1, directory.hasSuffix("/") { directory = directory.dropLast() }
            let example = (directory == "/" ? "" : directory) + "/disk.img"
            throw DiskImportError.usage("target \(path) is a directory: name the file to write, such as \(example)")
        default:
            throw DiskImportError.usage("target \(path) is \(describe(st.st_mode)): expected a regular file or a block device")
        }
    }

    /// Applies the space rules (statfs of the file's directory) and creates the file target.
    private static func openFile(path: String, finalPath: String, options: TargetOptions, progress: TransferProgress) throws -> FileTarget {
        let filesystem = try FilesystemInfo.of(directory(of: finalPath))
        let space = SpacePlan(free: filesystem.availableBytes, requested: options.requestedSize, overhead: options.overhead)
        if let size = options.virtualSize { try space.check(virtualSize: size, target: path) }
        return try FileTarget(path: path, finalPath: finalPath, virtualSize: options.virtualSize, space: space,
                              blockSize: filesystem.blockSize, preallocation: options.preallocation, progress: progress,
                              writeBackEarly: options.durable)
    }

    private static func checkDirectory(of path: String) throws {
        let dir = directory(of: path)
        var st = Glibc.stat()
        if stat(dir, &st) != 0 {
            let e = Errno(rawValue: errno)
            if e == .noSuchFileOrDirectory || e == .notDirectory {
                throw DiskImportError.usage("target directory \(dir) does not exist")
            }
            throw DiskImportError.io("stat target directory", dir, e)
        }
        if (st.st_mode & S_IFMT) != S_IFDIR { throw DiskImportError.usage("target directory \(dir) is not a directory") }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// realpath(3).
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func describe(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFCHR: return "a character device"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }
}
