import CLinux
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A sparse regular file written through a temporary name next to it and renamed into place only when complete,
/// so an interrupted import never leaves a file that looks finished.
public final class FileTarget: ExtentSink, @unchecked Sendable {
    public let path: String
    public let temporaryPath: String
    private let fd: FileDescriptor
    private let progress: TransferProgress
    private var committed = false

    /// Creates the temporary file (mode 0660 by default) sized to `size` bytes, all holes.
    public init(path: String, size: UInt64, progress: TransferProgress, mode: FilePermissions = [.ownerReadWrite, .groupReadWrite]) throws {
        self.path = path
        self.progress = progress
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = (directory.isEmpty ? "" : directory + "/") + ".\(name).diskimport-\(getpid())"
        do {
            fd = try FileDescriptor.open(temporaryPath, .readWrite, options: [.create, .truncate, .closeOnExec], permissions: mode)
        } catch let errno as Errno {
            throw DiskImportError.io("create", temporaryPath, errno)
        }
        do {
            try resize(to: size)
        } catch {
            abort()
            throw error
        }
    }

    deinit {
        try? fd.close()
        if !committed { unlink(temporaryPath) }
    }

    /// Sets the file length with ftruncate(2).
    public func resize(to size: UInt64) throws {
        if ftruncate(fd.rawValue, off_t(size)) != 0 { throw DiskImportError.io("truncate", temporaryPath, Errno(rawValue: errno)) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try ZeroScan.forEachRun(in: bytes, offset: offset) { range, isZero in
            guard !isZero else { return }
            try fd.writeAll(UnsafeRawBufferPointer(rebasing: bytes[range]), at: offset + UInt64(range.lowerBound), path: temporaryPath)
            progress.addWrittenBytes(UInt64(range.count))
        }
    }

    /// The file was created empty and sized with ftruncate, so zero ranges are already holes.
    public func writeZeros(at offset: UInt64, length: UInt64) throws {}

    public func copy(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws {
        var input = Int64(sourceOffset), output = Int64(offset)
        var left = length
        while left > 0 {
            let n = clinux_copy_file_range(file.rawValue, &input, fd.rawValue, &output, left)
            if n < 0 {
                let e = Errno(rawValue: errno)
                if e == .interrupted { continue }
                throw DiskImportError.io("copy_file_range into", temporaryPath, e)
            }
            if n == 0 { throw DiskImportError(.io, "copy_file_range into \(temporaryPath): source ended early") }
            left -= UInt64(n)
            progress.addWrittenBytes(UInt64(n))
        }
    }

    /// Flushes the file to stable storage and renames it to its final name.
    public func commit(sync: Bool) throws {
        if sync, fsync(fd.rawValue) != 0 { throw DiskImportError.io("fsync", temporaryPath, Errno(rawValue: errno)) }
        if rename(temporaryPath, path) != 0 { throw DiskImportError.io("rename \(temporaryPath) to", path, Errno(rawValue: errno)) }
        committed = true
    }

    /// Removes the temporary file.
    public func abort() {
        if !committed { unlink(temporaryPath) }
    }
}
