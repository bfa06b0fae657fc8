import CLinux
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Opens the `--reference` volumes of a file target and indexes them, after checking that the target can share
/// their blocks: regular files on the target's own filesystem, one that clones ranges (XFS reflink=1, btrfs).
///
/// Anything else is a one-line error before a byte is written, not a plain convert with a warning: the caller asked
/// for a volume that costs only its new blocks, and silently storing a full copy would break the space it planned.
enum ReferenceVolumes {
    static func index(paths: [String], targetDirectory: String, blockSize: UInt64) throws -> ReferenceIndex? {
        guard !paths.isEmpty else { return nil }
        guard UInt64(ReferenceIndex.blockSize) % blockSize == 0 else {
            throw DiskImportError.usage("--reference: the filesystem of \(targetDirectory) has \(blockSize)-byte blocks; sharing needs a block size that divides 4096")
        }
        var files: [ReferenceIndex.ReferenceFile] = []
        do {
            for path in paths {
                let fd = try open(path)
                files.append(ReferenceIndex.ReferenceFile(path: path, fd: fd))
                try checkSharing(from: files.last!, into: targetDirectory)
            }
            // The index closes them once built (it throws only before it is).
            return try ReferenceIndex(files: files)
        } catch {
            for file in files { try? file.fd.close() }
            throw error
        }
    }

    /// A regular file, opened for reading.
    private static func open(_ path: String) throws -> FileDescriptor {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DiskImportError.io("open reference", path, Errno(rawValue: errno)) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw DiskImportError.usage("--reference \(path): not a regular file (a reference is an earlier file volume)")
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Clones the reference's first block into an unnamed file next to the target: the one test that tells whether
    /// this filesystem shares between these two places (same filesystem, reflink enabled).
    private static func checkSharing(from reference: ReferenceIndex.ReferenceFile, into directory: String) throws {
        var st = Glibc.stat()
        guard fstat(reference.fd.rawValue, &st) == 0, st.st_size >= ReferenceIndex.blockSize else { return }
        let probePath = "\(directory)/.diskimport-reflink-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let probe = Glibc.open(probePath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard probe >= 0 else { throw DiskImportError.io("create a probe file in", directory, Errno(rawValue: errno)) }
        unlink(probePath)
        defer { close(probe) }
        if clinux_clone_range(reference.fd.rawValue, 0, UInt64(ReferenceIndex.blockSize), probe, 0) == 0 { return }
        let e = Errno(rawValue: errno)
        if e == .improperLink {
            throw DiskImportError.usage("--reference \(reference.path) is on another filesystem than the target in \(directory): both must be on one reflink filesystem (XFS reflink=1, btrfs)")
        }
        throw DiskImportError.usage("--reference \(reference.path): the filesystem of \(directory) cannot share blocks (FICLONERANGE: \(e.description)); it needs XFS with reflink=1 or btrfs")
    }
}
