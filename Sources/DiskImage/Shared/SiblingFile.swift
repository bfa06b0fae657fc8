import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Opens a file that an image names (a vhd's parent), only inside the image's own directory.
///
/// qemu opens whatever path an image holds. An image from elsewhere must not make diskimport read /etc/shadow or a
/// block device into a target, so a name must be relative, free of `..` and protocols, must stay in that directory
/// once symbolic links are resolved, and must be a regular file.
enum SiblingFile {
    /// Opens `name`, named by the image at `imagePath` (a `format` image) as its `role` ("parent").
    static func open(_ name: String, namedBy imagePath: String, format: String, role: String) throws -> LocalFile {
        let path = try resolve(name, namedBy: imagePath, format: format, role: role)
        let file: LocalFile
        do {
            file = try LocalFile(path: path)
        } catch let error as DiskImportError {
            throw DiskImportError(error.kind, "\(imagePath): \(format): cannot open its \(role) \(name): \(error.message)", errno: error.errno)
        }
        var st = Glibc.stat()
        guard fstat(file.descriptor.rawValue, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw refusal(name, imagePath, format, role, "is not a regular file")
        }
        if let directory = realPath(directory(of: imagePath)), let real = realPath(path),
           !real.hasPrefix(directory == "/" ? "/" : directory + "/") {
            throw refusal(name, imagePath, format, role, "leads outside the image's directory")
        }
        return file
    }

    /// The path of `name` beside `imagePath`, refusing names that could leave its directory.
    static func resolve(_ name: String, namedBy imagePath: String, format: String, role: String) throws -> String {
        if name.isEmpty { throw refusal(name, imagePath, format, role, "is empty") }
        if name.hasPrefix("/") { throw refusal(name, imagePath, format, role, "is an absolute path") }
        if name.contains("\\") || name.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw refusal(name, imagePath, format, role, "leads outside the image's directory (..)")
        }
        if let colon = name.firstIndex(of: ":"), !name[..<colon].contains("/") {
            throw refusal(name, imagePath, format, role, "names a protocol or a drive, not a file beside the image")
        }
        if name.utf8.contains(0) { throw refusal(name, imagePath, format, role, "holds a NUL character") }
        let dir = directory(of: imagePath)
        return dir.isEmpty ? name : dir + "/" + name
    }

    static func refusal(_ name: String, _ imagePath: String, _ format: String, _ role: String, _ why: String) -> DiskImportError {
        .unsupported("\(imagePath): \(format): \(role) \"\(name)\" \(why); only files inside the image's own directory are followed")
    }

    /// The directory part of `path` ("" for a bare name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path.isEmpty ? "." : path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
