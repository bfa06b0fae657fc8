import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Which `--storage DIR` each cron verb accepts, and the absolute path it is used under.
///
/// A directory holds cron state once it has `DIR/state/` (the first tick creates it). `status` needs such a
/// directory: a typo must be an error, not empty tables. `tick` and `run` also accept a *first run*: DIR does not exist
/// but its parent does (DIR is created), or DIR exists and is empty (a new mount; `lost+found` is allowed). Anything
/// else (a missing parent, a directory of other files) is refused before anything is created, so a mistyped
/// `--storage /nonexistent/st` creates nothing.
///
/// The path is made absolute (against the working directory) before anything is stored, so DataSource and volume
/// paths in the records name the same files from any directory.
public enum StorageDirectory {
    /// The state directory whose presence marks an initialised STORAGE.
    static func stateDirectory(_ storage: String) -> String { "\(storage)/state" }

    /// For `status`: an existing STORAGE with state, as an absolute path.
    public static func existing(_ storage: String) throws -> String {
        let path = try absolute(storage)
        guard FileSystem.exists(path) else {
            throw DiskImportError.usage("storage directory \(path) does not exist (no cron has ticked there yet)")
        }
        guard FileSystem.isDirectory(path) else { throw DiskImportError.usage("storage \(path) is not a directory") }
        guard FileSystem.isDirectory(stateDirectory(path)) else {
            throw DiskImportError.usage("storage directory \(path) holds no cron state (no \(stateDirectory(path))): "
                + "run `diskimport cron tick` with it first")
        }
        return path
    }

    /// For `tick` and `run`: an existing STORAGE with state, or a first run (see the type's comment), created here.
    /// Returns the absolute path and whether this is the first run.
    public static func forController(_ storage: String) throws -> (path: String, firstRun: Bool) {
        let path = try absolute(storage)
        if FileSystem.isDirectory(stateDirectory(path)) { return (path, false) }
        if FileSystem.exists(path) {
            guard FileSystem.isDirectory(path) else { throw DiskImportError.usage("storage \(path) is not a directory") }
            let others = try FileSystem.list(path).filter { $0 != "lost+found" && $0 != ".lock" }
            guard others.isEmpty else {
                throw DiskImportError.usage("storage directory \(path) holds no cron state (no \(stateDirectory(path))) "
                    + "but is not empty (\(others.prefix(3).joined(separator: ", "))\(others.count > 3 ? ", …" : "")): "
                    + "a first run needs a new or empty directory")
            }
            return (path, true)
        }
        let parent = FileSystem.split(path).directory
        guard FileSystem.isDirectory(parent) else {
            throw DiskImportError.usage("storage directory \(path) does not exist, nor does its parent \(parent): "
                + "a first run creates the storage directory only inside an existing one")
        }
        try FileSystem.makeDirectories(path)
        return (path, true)
    }

    /// `path` made absolute against the working directory, without `.` components or a trailing slash.
    static func absolute(_ path: String) throws -> String {
        guard !path.isEmpty else { throw DiskImportError.usage("--storage is empty") }
        var full = path
        if !path.hasPrefix("/") {
            guard let cwd = getcwd(nil, 0) else {
                throw DiskImportError.io("getcwd", ".", Errno(rawValue: errno))
            }
            defer { free(cwd) }
            full = String(cString: cwd) + "/" + path
        }
        var components: [Substring] = []
        for component in full.split(separator: "/") where component != "." {
            if component == "..", !components.isEmpty {
                components.removeLast()
            } else if component != ".." {
                components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}
