import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// What the importer knows about the disk before writing it.
public struct TargetOptions: Sendable {
    /// The disk's size when the reader knows it up front; nil for a raw stream of unknown length.
    public var virtualSize: UInt64?
    /// The data the reader will store, when its metadata tells (`DiskImageReader.allocatedData`).
    public var allocatedData: AllocatedData?
    /// `--size` / IMPORTER_IMAGE_SIZE.
    public var requestedSize: UInt64?
    /// CDI's space rules with this filesystem overhead (pod mode, cron volumes, `--filesystem-overhead`); nil
    /// applies qemu-img's (see `SpacePlan`).
    public var overhead: FilesystemOverhead?
    public var preallocation: PreallocationMode
    /// The import ends with an fsync: a file target starts writing its data back as it goes (see `FileTarget`).
    public var durable: Bool
    /// `--reference`: earlier volumes whose blocks a file target shares where it would store the same bytes.
    public var references: [String]

    public init(virtualSize: UInt64?, allocatedData: AllocatedData? = nil, requestedSize: UInt64? = nil,
                overhead: FilesystemOverhead? = nil, preallocation: PreallocationMode = .off, durable: Bool = false,
                references: [String] = []) {
        self.references = references
        self.virtualSize = virtualSize
        self.allocatedData = allocatedData
        self.requestedSize = requestedSize
        self.overhead = overhead
        self.preallocation = preallocation
        self.durable = durable
    }
}

/// Picks and opens the target for a path: an existing block device is written in place; a regular file, or a new
/// name in an existing directory, becomes a `FileTarget` under the space rules (`SpacePlan`); anything else is refused.
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
            return try openBlockDevice(path: path, options: options, progress: progress)
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

    /// A block device is its whole volume: an image larger than it is refused under either rules, in CDI's words
    /// under CDI's (its `availableSpace` is the device size, pkg/importer/data-processor.go `calculateTargetSize`).
    private static func openBlockDevice(path: String, options: TargetOptions, progress: TransferProgress) throws -> BlockDeviceTarget {
        if !options.references.isEmpty {
            throw DiskImportError.usage("--reference: target \(path) is a block device; only a file target can share a reference's blocks")
        }
        let device = try BlockDeviceTarget(path: path, virtualSize: options.overhead == nil ? options.virtualSize : nil,
                                           preallocation: options.preallocation, progress: progress)
        if options.overhead != nil, let size = options.virtualSize, size > device.deviceSize {
            throw SpaceRules.largerThanAvailable(virtualSize: size, available: device.deviceSize)
        }
        return device
    }

    /// Applies the space rules (statfs of the file's directory) and creates the file target.
    private static func openFile(path: String, finalPath: String, options: TargetOptions, progress: TransferProgress) throws -> FileTarget {
        let filesystem = try FilesystemInfo.of(directory(of: finalPath))
        let space = SpacePlan(free: filesystem.availableBytes, requested: options.requestedSize, overhead: options.overhead,
                              filesystemSize: filesystem.size)
        if let size = options.virtualSize { try space.check(virtualSize: size) }
        if let data = options.allocatedData, !mayShare(data, with: filesystem, directory: directory(of: finalPath)) {
            try space.check(dataBytes: data.bytes, target: path)
        }
        let references = try ReferenceVolumes.index(paths: options.references, targetDirectory: directory(of: finalPath),
                                                    blockSize: filesystem.blockSize)
        return try FileTarget(path: path, finalPath: finalPath, virtualSize: options.virtualSize, space: space,
                              blockSize: filesystem.blockSize, preallocation: options.preallocation, progress: progress,
                              writeBackEarly: options.durable, references: references)
    }

    /// Whether the target may share the data's blocks with its source file rather than store them: the same
    /// filesystem, and one that can (XFS, btrfs; FileTarget clones ranges with FICLONERANGE there).
    private static func mayShare(_ data: AllocatedData, with filesystem: FilesystemInfo, directory: String) -> Bool {
        guard let file = data.sourceFile, [xfsMagic, btrfsMagic].contains(filesystem.type) else { return false }
        var source = Glibc.stat(), target = Glibc.stat()
        return fstat(file.rawValue, &source) == 0 && stat(directory, &target) == 0 && source.st_dev == target.st_dev
    }

    /// statfs(2) f_type of XFS (XFS_SUPER_MAGIC) and btrfs (BTRFS_SUPER_MAGIC).
    private static let xfsMagic: Int64 = 0x5846_5342, btrfsMagic: Int64 = 0x9123_683E

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
