import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One extra HTTP header, `Name: value`, from IMPORTER_EXTRA_HEADER_* or a file of CDI's secret extra headers.
public struct HeaderLine: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let value: String
    /// From a secret: the value is never shown.
    public let isSecret: Bool

    /// Parses `Name: value`, as CDI does (split at the first colon), refusing what would break the request: an empty
    /// or non-token name, or a line break anywhere. `origin` names the variable or file in errors; the value is
    /// never quoted, since headers often carry tokens.
    init(parsing text: String, origin: String, isSecret: Bool) throws {
        // Secret files written by hand often end with a newline.
        var line = Substring(text)
        while let last = line.last, last == "\n" || last == "\r" { line = line.dropLast() }
        guard let colon = line.firstIndex(of: ":") else {
            throw DiskImportError.usage("\(origin) is not an HTTP header of the form \"Name: value\"")
        }
        let name = String(line[..<colon])
        let value = String(line[line.index(after: colon)...]).trimmingSpaces()
        let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        guard !name.isEmpty, name.allSatisfy({ tokenCharacters.contains($0) }) else {
            throw DiskImportError.usage("\(origin): \"\(name)\" is not a valid HTTP header name")
        }
        guard !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
            throw DiskImportError.usage("\(origin): the header value of \(name) contains a line break")
        }
        self.name = name
        self.value = value
        self.isSecret = isSecret
    }

    public var description: String { isSecret ? "\(name): <redacted>" : "\(name): \(value)" }

    /// The text a client sends.
    public var line: String { "\(name): \(value)" }

    static let environmentPrefix = "IMPORTER_EXTRA_HEADER_"

    /// IMPORTER_EXTRA_HEADER_* in the order of their names, numeric suffixes compared as numbers (_2 before _10).
    static func fromEnvironment(_ environment: [String: String]) throws -> [HeaderLine] {
        let names = environment.keys.filter { $0.hasPrefix(environmentPrefix) }.sorted { a, b in
            let sa = a.dropFirst(environmentPrefix.count), sb = b.dropFirst(environmentPrefix.count)
            if let na = Int(sa), let nb = Int(sb), na != nb { return na < nb }
            return a < b
        }
        return try names.compactMap { name in
            guard let text = environment[name], !text.isEmpty else { return nil }
            return try HeaderLine(parsing: text, origin: name, isSecret: false)
        }
    }

    /// CDI's secret extra headers: every regular file under `directory` (one level of per-secret directories, as CDI
    /// mounts them at /extraheaders/<n>/<key>), skipping names that start with a dot (the kubelet's `..data` links).
    /// A missing directory means no headers.
    static func fromSecretDirectory(_ directory: String) throws -> [HeaderLine] {
        var headers: [HeaderLine] = []
        for entry in try DirectoryListing.entries(of: directory) where !entry.hasPrefix(".") {
            let path = directory + "/" + entry
            if DirectoryListing.isDirectory(path) {
                for file in try DirectoryListing.entries(of: path) where !file.hasPrefix(".") {
                    let filePath = path + "/" + file
                    if DirectoryListing.isDirectory(filePath) { continue }
                    headers.append(try HeaderLine(parsing: try DirectoryListing.readSmallFile(filePath), origin: filePath, isSecret: true))
                }
            } else {
                headers.append(try HeaderLine(parsing: try DirectoryListing.readSmallFile(path), origin: path, isSecret: true))
            }
        }
        return headers
    }
}

/// Small filesystem reads for configuration: directory names, "is it a directory", a file of at most 64 KiB.
enum DirectoryListing {
    /// opendir(3)/readdir(3), names sorted; [] when the directory does not exist.
    static func entries(of directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw DiskImportError.io("open directory", directory, Errno(rawValue: errno))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// stat(2), following links (a kubelet projection makes every key a link).
    static func isDirectory(_ path: String) -> Bool {
        var st = Glibc.stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func exists(_ path: String) -> Bool {
        var st = Glibc.stat()
        return stat(path, &st) == 0
    }

    /// The whole file as UTF-8 text; refuses files over `limit` bytes.
    static func readSmallFile(_ path: String, limit: Int = 64 << 10) throws -> String {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) } catch let e as Errno {
            throw DiskImportError.io("open", path, e)
        }
        defer { try? fd.close() }
        // Read in 64 KiB steps: a buffer of `limit` bytes allocated and freed up front (16 MiB for a certificate
        // directory) raises glibc's dynamic mmap threshold, after which the import's buffers come from the heap and
        // are not returned: the pod's peak RSS was 138 MiB instead of 74 for the same qcow2.xz over HTTPS.
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(limit + 1, 64 << 10))
        while bytes.count <= limit {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0, retryOnInterrupt: true) }
            } catch let e as Errno {
                throw DiskImportError.io("read", path, e)
            }
            if n == 0 { break }
            bytes += chunk[..<n]
        }
        let count = bytes.count
        if count > limit { throw DiskImportError.usage("\(path) is larger than \(limit) bytes") }
        return String(decoding: bytes[..<count], as: UTF8.self)
    }
}
