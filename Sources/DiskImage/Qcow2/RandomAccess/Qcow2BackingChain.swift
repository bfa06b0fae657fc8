import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Opens the images a local qcow2 image reads through: the image, its backing file, that file's backing file, …
///
/// Relative backing names resolve against the directory of the image that names them (as qemu's
/// bdrv_get_full_backing_filename does). The backing format comes from the image's backing format extension, or
/// from the backing file's magic when there is none. A chain that comes back to a file already in it is refused
/// (qemu-img convert would hang on it).
public enum Qcow2BackingChain {
    /// Longer chains are refused; real ones are a handful of images deep.
    public static let maxDepth = 64

    /// The layers of the chain starting at `top` (already opened as qcow2), top first.
    /// With `followBacking` false, an image with a backing file is refused.
    static func open(top: Qcow2Image, file: LocalFile, followBacking: Bool) throws -> [ChainLayer] {
        var layers: [ChainLayer] = [top]
        var seen: [FileIdentity: String] = [try FileIdentity(file): file.path]
        var current: (image: Qcow2Image, path: String) = (top, file.path)
        while let name = current.image.header.extensions.backingFileName, !name.isEmpty {
            guard followBacking else {
                throw DiskImportError.unsupported("\(current.path) has a backing file (\(name)); backing files are refused (--no-backing)")
            }
            guard layers.count < maxDepth else {
                throw DiskImportError.unsupported("\(file.path): the backing chain is more than \(maxDepth) images deep")
            }
            let path = try resolve(backingName: name, of: current.path)
            let backing: LocalFile
            do {
                backing = try LocalFile(path: path)
            } catch let error as DiskImportError {
                throw DiskImportError(error.kind, "\(current.path): cannot open its backing file: \(error.message)", errno: error.errno)
            }
            let identity = try FileIdentity(backing)
            if let earlier = seen[identity] {
                throw DiskImportError.corrupt("\(current.path): the backing chain loops: its backing file \(name) is \(earlier), already in the chain")
            }
            seen[identity] = path
            switch try format(of: backing, declared: current.image.header.extensions.backingFormat, by: current.path) {
            case .qcow2:
                let image = try Qcow2Image(source: backing)
                layers.append(image)
                current = (image, path)
            case .raw:
                layers.append(RawChainLayer(source: backing))
                return layers
            }
        }
        return layers
    }

    /// The path of backing file `name` named by the image at `imagePath`.
    static func resolve(backingName name: String, of imagePath: String) throws -> String {
        // qemu treats "xyz:" before any slash as a protocol (nbd:, http:, json:{…}); only local files are followed.
        if let colon = name.firstIndex(of: ":"), !name[..<colon].contains("/") {
            if name.hasPrefix("file:") { return try resolve(backingName: String(name.dropFirst(5)), of: imagePath) }
            throw DiskImportError.unsupported("\(imagePath): backing file \(name) is not a local file; only local backing files are supported")
        }
        if name.hasPrefix("/") { return name }
        guard let slash = imagePath.lastIndex(of: "/") else { return name }
        return String(imagePath[...slash]) + name
    }

    /// The formats a backing file may have.
    enum BackingFormat { case qcow2, raw }

    /// The backing file's format: as declared by the overlay, else probed from its magic like qemu does
    /// (anything that is not a qcow2 header or another disk format qemu knows is raw).
    static func format(of file: LocalFile, declared: String?, by overlay: String) throws -> BackingFormat {
        if let declared {
            switch declared {
            case "qcow2": return .qcow2
            case "raw", "file": return .raw
            default: throw DiskImportError.unsupported("\(overlay): backing file format \(declared) is not supported (only qcow2 and raw)")
            }
        }
        var head = [UInt8](repeating: 0, count: FormatSniffer.headLength)
        let got = try head.withUnsafeMutableBytes { try file.readFully(at: 0, into: $0) }
        switch FormatSniffer.detect(head: Array(head[..<got])) {
        case .image(.qcow2): return .qcow2
        case .unsupported(let name): throw DiskImportError.unsupported("\(file.path): unsupported format \(name) (backing file of \(overlay))")
        default: return .raw
        }
    }
}

/// A file's identity (device and inode), to notice a chain that comes back to a file by another name.
struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64

    init(_ file: LocalFile) throws {
        var st = Glibc.stat()
        if fstat(file.descriptor.rawValue, &st) != 0 { throw DiskImportError.io("stat", file.path, Errno(rawValue: errno)) }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}
