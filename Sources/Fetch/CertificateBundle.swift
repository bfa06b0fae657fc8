import CCurl
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The CA certificates a transfer trusts, as one PEM bundle handed to libcurl in memory (CURLOPT_CAINFO_BLOB):
/// the system bundle libcurl would use by default, then every extra CA file. CURLOPT_CAINFO_BLOB replaces the
/// default bundle, so the system's is included to keep public CAs trusted (CDI adds certDir to the system pool).
enum CertificateBundle {
    /// The regular *.crt and *.pem files in `directory`, in name order (Kubernetes Secret mounts are symlinks to
    /// regular files, which count; the `..data` directories do not).
    static func certificateFiles(in directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            throw DiskImportError.io("open certificate directory", directory, Errno(rawValue: errno))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.hasPrefix("."), name.hasSuffix(".crt") || name.hasSuffix(".pem") else { continue }
            if isRegularFile(directory + "/" + name) { names.append(name) }
        }
        return names.sorted().map { directory + "/" + $0 }
    }

    /// Whether `path` is (or links to) a regular file: open(2) + fstat(2).
    private static func isRegularFile(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = Glibc.stat()
        return fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// The PEM bundle: the system CAs (when libcurl has a default bundle file) plus `files`.
    static func pem(systemBundle: String?, files: [String]) throws -> [UInt8] {
        var bundle: [UInt8] = []
        if let systemBundle, let system = try? SmallFile.read(systemBundle, limit: 16 << 20, what: "CA bundle") {
            bundle += system
            bundle.append(0x0a)
        }
        for file in files {
            let pem = try SmallFile.read(file, limit: 16 << 20, what: "CA file")
            guard containsSubsequence(pem, Array("-----BEGIN CERTIFICATE-----".utf8)) else {
                throw DiskImportError.usage("CA file \(file) holds no PEM certificate")
            }
            bundle += pem
            bundle.append(0x0a)
        }
        return bundle
    }

    private static func containsSubsequence(_ bytes: [UInt8], _ needle: [UInt8]) -> Bool {
        guard bytes.count >= needle.count else { return false }
        for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
            if bytes[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }
}

/// Whole small files (certificates, password files), with a size limit.
enum SmallFile {
    static func read(_ path: String, limit: Int, what: String) throws -> [UInt8] {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch let errno as Errno {
            throw DiskImportError.io("open \(what)", path, errno)
        }
        defer { try? fd.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0, retryOnInterrupt: true) }
            } catch let errno as Errno {
                throw DiskImportError.io("read \(what)", path, errno)
            }
            if n == 0 { return bytes }
            bytes += chunk[..<n]
            if bytes.count > limit { throw DiskImportError.usage("\(what) \(path) is larger than \(limit) bytes") }
        }
    }
}
