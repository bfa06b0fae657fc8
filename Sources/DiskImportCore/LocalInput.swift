import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A local path or standard input, once open: a regular file or block device is read at any offset; a pipe, a FIFO,
/// a character device or a socket only front to back, as a stream of unknown length (its st_size says nothing).
public enum LocalInput {
    case file(LocalFile)
    case stream(DescriptorStream)

    /// The name standard input has in messages and in info's `filename`.
    public static let standardInputName = "stdin"

    /// Opens `path` read-only (a FIFO waits here for its writer, as for any reader of it).
    public static func open(path: String) throws -> LocalInput {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch let errno as Errno {
            throw DiskImportError.io("open", path, errno)
        }
        return try classify(descriptor, name: path, owned: true)
    }

    /// Standard input (`-`): a file redirected in (`< disk.img`) is read at any offset through its own descriptor;
    /// anything else is streamed.
    public static func standardInput() throws -> LocalInput {
        try classify(.standardInput, name: standardInputName, owned: false)
    }

    private static func classify(_ descriptor: FileDescriptor, name: String, owned: Bool) throws -> LocalInput {
        let type: mode_t
        do {
            type = try descriptor.fileType()
        } catch {
            if owned { try? descriptor.close() }
            throw error
        }
        switch type {
        case S_IFREG, S_IFBLK:
            guard !owned else { return .file(try LocalFile(descriptor: descriptor, path: name)) }
            // pread on a descriptor of our own, so standard input's offset stays where it was.
            let copy = fcntl(descriptor.rawValue, F_DUPFD_CLOEXEC, 0)
            if copy < 0 { throw DiskImportError.io("duplicate", name, Errno(rawValue: errno)) }
            return .file(try LocalFile(descriptor: FileDescriptor(rawValue: copy), path: name))
        case S_IFDIR:
            if owned { try? descriptor.close() }
            throw DiskImportError.usage("\(name) is a directory, not a disk image")
        default:
            return .stream(DescriptorStream(descriptor, name: name, closesDescriptor: owned))
        }
    }
}
