import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The system calls every target makes, with errors that name the target and say "full" when it is full.
enum TargetIO {
    /// pwrite(2) until all of `bytes` is at `offset`, retrying short writes and EINTR.
    static func writeAll(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd.rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                let e = Errno(rawValue: errno)
                if e == .interrupted { continue }
                throw failure("write", path: path, errno: e, offset: offset + UInt64(done), length: UInt64(bytes.count - done))
            }
            if n == 0 { throw DiskImportError(.io, "write \(path): the kernel accepted 0 bytes at offset \(offset + UInt64(done))") }
            done += n
        }
    }

    /// The error for a failed write-like call: "target full" for ENOSPC and EDQUOT, "too large" for EFBIG,
    /// else an `.io` error naming the call.
    static func failure(_ operation: String, path: String, errno e: Errno, offset: UInt64, length: UInt64) -> DiskImportError {
        switch e {
        case .noSpace, .diskQuotaExceeded:
            return DiskImportError(.space, "target full: \(e.description) while writing \(length) bytes at offset \(offset) of \(path)", errno: e)
        case .fileTooLarge:
            return DiskImportError(.space, "target \(path) cannot hold offset \(offset + length): \(e.description)", errno: e)
        default:
            return DiskImportError(.io, "\(operation) \(path) at offset \(offset) (\(length) bytes): \(e.description)", errno: e)
        }
    }

    /// ftruncate(2).
    static func setLength(_ fd: FileDescriptor, _ length: UInt64, path: String) throws {
        while ftruncate(fd.rawValue, off_t(length)) != 0 {
            let e = Errno(rawValue: errno)
            if e == .interrupted { continue }
            throw failure("truncate", path: path, errno: e, offset: 0, length: length)
        }
    }

    /// fsync(2).
    static func sync(_ fd: FileDescriptor, path: String) throws {
        if fsync(fd.rawValue) != 0 {
            let e = Errno(rawValue: errno)
            throw e == .noSpace ? failure("fsync", path: path, errno: e, offset: 0, length: 0) : DiskImportError.io("fsync", path, e)
        }
    }

    /// Refuses a guest range that reaches past `capacity`, which protects the target from readers that produce
    /// more than they announced (a decompression bomb, a corrupt size field).
    static func checkBounds(offset: UInt64, length: UInt64, capacity: UInt64, path: String) throws {
        let (end, overflow) = offset.addingReportingOverflow(length)
        if overflow || end > capacity {
            throw DiskImportError(.limit, """
                refusing to write past the planned end of \(path): \(length) bytes at offset \(offset) \
                go beyond \(capacity) bytes
                """)
        }
    }
}

/// A page of zeros for writing zero ranges where no cheaper way exists.
enum ZeroPage {
    static let size = 1 << 20
    nonisolated(unsafe) static let buffer: UnsafeRawBufferPointer = {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        b.initializeMemory(as: UInt8.self, repeating: 0)
        return UnsafeRawBufferPointer(b)
    }()
}
