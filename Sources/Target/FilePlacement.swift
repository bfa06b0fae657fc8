import CLinux
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Where a file target's bytes are written, and how they become the target.
///
/// - A new file, or one whose directory we may write: a temporary `.NAME.diskimport-PID` beside it, renamed over the
///   target only when complete. A new file is created 0644 & ~umask, as qemu-img's file driver creates it
///   (block/file-posix.c raw_co_create: `qemu_create(…, 0644)`); a replaced file's owner, group and mode go to the
///   temporary file before any byte is written (so a private disk is never readable by others meanwhile).
/// - An existing file whose directory we may not write, or whose owner we cannot give a new file (not root): written
///   in place, as qemu-img does (it truncates and rewrites the file it opens), after a warning that a failure now
///   leaves the old file lost. A failed or interrupted import empties it, so it never keeps the length of a disk.
///
/// The temporary file is held under flock(2) while it is written; a later import to the same target removes the
/// temporaries of dead imports (`StaleTemporaries`).
final class FilePlacement: Sendable {
    /// The file being written: the temporary file, or the target itself in place.
    let fd: FileDescriptor
    /// nil when writing in place.
    let temporaryPath: String?
    let finalPath: String
    /// The replaced file's mode bits, set on the new file at publication (setuid and setgid bits included, which a
    /// write would clear).
    private let keptMode: mode_t?
    private let cleanup: InterruptCleanup

    private init(fd: FileDescriptor, temporaryPath: String?, finalPath: String, keptMode: mode_t?, cleanup: InterruptCleanup) {
        self.fd = fd
        self.temporaryPath = temporaryPath
        self.finalPath = finalPath
        self.keptMode = keptMode
        self.cleanup = cleanup
    }

    var isInPlace: Bool { temporaryPath == nil }

    /// Opens the file to write for `finalPath` (what the user's `path` resolves to), empty.
    static func create(path: String, finalPath: String) throws -> FilePlacement {
        let (directory, name) = split(finalPath)
        let temporaryPath = directory + ".\(name).diskimport-\(getpid())"
        StaleTemporaries.remove(in: directory.isEmpty ? "." : directory, target: name)
        let existing = try existingFile(finalPath, shownAs: path)
        // A stale temporary file of a dead process with our pid is ours to replace; never follow a link there.
        unlink(temporaryPath)
        // Armed before the file exists: a stop signal from here on removes it, whatever instant it lands.
        let cleanup = try InterruptCleanup(path: temporaryPath)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(temporaryPath, .readWrite, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                                         permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch let errno as Errno {
            if let existing, errno == .permissionDenied || errno == .notPermitted {
                return try inPlace(path: path, finalPath: finalPath,
                                   why: "its directory is not writable (\(errno.description))", existing: existing)
            }
            throw DiskImportError(.io, "cannot create \(path) (as the temporary file \(temporaryPath)): \(errno.description)",
                                  errno: errno)
        }
        guard let existing else {
            return armed(fd: fd, temporaryPath: temporaryPath, finalPath: finalPath, keptMode: nil, cleanup: cleanup)
        }
        // The owner first (chown clears setuid bits; the full mode is set at publication), then the permission bits.
        var created = Glibc.stat()
        _ = fstat(fd.rawValue, &created)
        if created.st_uid != existing.st_uid || created.st_gid != existing.st_gid,
           fchown(fd.rawValue, existing.st_uid, existing.st_gid) != 0 {
            let reason = Errno(rawValue: errno)
            try? fd.close()
            unlink(temporaryPath)
            return try inPlace(path: path, finalPath: finalPath,
                               why: "a new file cannot keep its owner \(existing.st_uid):\(existing.st_gid) (\(reason.description))",
                               existing: existing)
        }
        _ = fchmod(fd.rawValue, existing.st_mode & 0o777)
        return armed(fd: fd, temporaryPath: temporaryPath, finalPath: finalPath, keptMode: existing.st_mode & 0o7777,
                     cleanup: cleanup)
    }

    /// The temporary file, locked; `cleanup` (armed before it was created) removes it on a signal.
    private static func armed(fd: FileDescriptor, temporaryPath: String, finalPath: String, keptMode: mode_t?,
                              cleanup: InterruptCleanup) -> FilePlacement {
        // Held until the process ends however it ends: what tells a later import that this file is still being written.
        _ = flock(fd.rawValue, LOCK_EX | LOCK_NB)
        return FilePlacement(fd: fd, temporaryPath: temporaryPath, finalPath: finalPath, keptMode: keptMode, cleanup: cleanup)
    }

    /// The target itself, opened and emptied (its owner, group and mode stay as they are).
    private static func inPlace(path: String, finalPath: String, why: String, existing: Glibc.stat) throws -> FilePlacement {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(finalPath, .readWrite, options: [.noFollow, .closeOnExec])
        } catch let errno as Errno {
            throw DiskImportError(.io, "cannot write \(path): \(errno.description)", errno: errno)
        }
        Console.writeError("diskimport: warning: writing \(path) in place, as qemu-img does, because \(why): "
            + "its old contents are gone from now on, and a failed import leaves it empty or incomplete\n")
        do {
            let cleanup = try InterruptCleanup(truncating: fd, path: path)
            // Emptied, so every block not written reads as zeros (zero runs are never written).
            try TargetIO.setLength(fd, 0, path: path)
            return FilePlacement(fd: fd, temporaryPath: nil, finalPath: finalPath, keptMode: nil, cleanup: cleanup)
        } catch {
            try? fd.close()
            throw error
        }
    }

    /// The regular file at `finalPath`, if there is one; an existing file we may not write is refused, as qemu-img
    /// refuses it ("Permission denied"), rather than replaced through its directory.
    private static func existingFile(_ finalPath: String, shownAs path: String) throws -> Glibc.stat? {
        var st = Glibc.stat()
        guard lstat(finalPath, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        if faccessat(AT_FDCWD, finalPath, W_OK, AT_EACCESS) != 0 {
            let e = Errno(rawValue: errno)
            throw DiskImportError(.io, "cannot write \(path): \(e.description)", errno: e)
        }
        return st
    }

    /// Makes the written file the target: the replaced file's mode, fsync(2) when asked, rename(2) over the target.
    func publish(sync: Bool, path: String) throws {
        if let keptMode { _ = fchmod(fd.rawValue, keptMode) }
        if sync { try TargetIO.sync(fd, path: path) }
        if let temporaryPath, rename(temporaryPath, finalPath) != 0 {
            throw DiskImportError.io("rename \(temporaryPath) to", finalPath, Errno(rawValue: errno))
        }
        cleanup.disarm()
    }

    /// Undoes an unpublished import: the temporary file removed, a file written in place emptied.
    func discard() {
        if let temporaryPath {
            unlink(temporaryPath)
        } else {
            _ = ftruncate(fd.rawValue, 0)
        }
        cleanup.disarm()
    }

    /// "dir/" and "name" of a path ("" and the path when it has no slash).
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }
}
