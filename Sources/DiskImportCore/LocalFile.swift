import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A local regular file (or block device) opened read-only, read with pread(2).
///
/// Serves both as a `RandomAccessSource` and, through `stream()`, as a `ByteStream`.
public final class LocalFile: RandomAccessSource, @unchecked Sendable {
    public let path: String
    public let descriptor: FileDescriptor
    public let length: UInt64

    /// Opens `path` read-only; the length is the file's size, or the device size for a block device.
    public convenience init(path: String) throws {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch let errno as Errno {
            throw DiskImportError.io("open", path, errno)
        }
        try self.init(descriptor: descriptor, path: path)
    }

    /// Takes over `descriptor`, open read-only on a regular file or block device (closed on failure too); `path`
    /// names it in messages.
    public init(descriptor: FileDescriptor, path: String) throws {
        self.path = path
        self.descriptor = descriptor
        do {
            length = try descriptor.sizeOfFileOrDevice()
        } catch {
            try? descriptor.close()
            throw error
        }
    }

    deinit { try? descriptor.close() }

    public var localFile: FileDescriptor? { descriptor }
    public var displayName: String { path }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if offset >= length || buffer.count == 0 { return 0 }
        do {
            return try descriptor.read(fromAbsoluteOffset: Int64(offset), into: buffer, retryOnInterrupt: true)
        } catch let errno as Errno {
            throw DiskImportError.io("read", path, errno)
        }
    }
}

extension FileDescriptor {
    /// The file type bits of fstat(2)'s st_mode (S_IFREG, S_IFBLK, S_IFIFO, S_IFCHR, S_IFDIR, S_IFSOCK).
    public func fileType() throws -> mode_t {
        var st = Glibc.stat()
        if fstat(rawValue, &st) != 0 { throw DiskImportError.io("stat", "descriptor \(rawValue)", Errno(rawValue: errno)) }
        return st.st_mode & S_IFMT
    }

    /// fstat(2) size for regular files, ioctl(BLKGETSIZE64) for block devices.
    public func sizeOfFileOrDevice() throws -> UInt64 {
        var st = Glibc.stat()
        if fstat(rawValue, &st) != 0 { throw DiskImportError.io("stat", "descriptor \(rawValue)", Errno(rawValue: errno)) }
        if (st.st_mode & S_IFMT) == S_IFBLK {
            return try BlockDevice.size(of: self)
        }
        return UInt64(st.st_size)
    }

    /// Writes all of `bytes` at `offset`, retrying short writes; names `path` in errors.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String) throws {
        var done = 0
        while done < bytes.count {
            do {
                let n = try write(toAbsoluteOffset: Int64(offset) + Int64(done),
                                  UnsafeRawBufferPointer(rebasing: bytes[done...]), retryOnInterrupt: true)
                if n == 0 { throw DiskImportError(.io, "write \(path): wrote 0 bytes") }
                done += n
            } catch let errno as Errno {
                throw DiskImportError.io("write", path, errno)
            }
        }
    }
}
