import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Removes what killed imports left: a SIGKILL (the OOM killer, `kubectl delete --force`, a power cut) runs no
/// cleanup, so `.NAME.diskimport-PID` stays beside its target, as large as the disk was when it died.
///
/// Only files that are certainly such leftovers go: in the target's own directory, named for the same target, a
/// regular file (not a link), of a PID other than ours that no process has now (kill(2) says ESRCH), and not locked:
/// a running import holds flock(2) on its temporary file, which a PID reused by another process, or an import in
/// another PID namespace sharing the volume, cannot fake away.
enum StaleTemporaries {
    /// Removes the leftovers for target `name` in `directory`, each with one line on stderr; best effort.
    static func remove(in directory: String, target name: String) {
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { return }
        defer { close(dirfd) }
        guard let stream = fdopendir(dup(dirfd)) else { return }
        defer { closedir(stream) }
        let prefix = ".\(name).diskimport-"
        var leftovers: [(name: String, pid: pid_t)] = []
        while let entry = readdir(stream) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let pid = processID(in: entryName, prefix: prefix) { leftovers.append((entryName, pid)) }
        }
        for leftover in leftovers {
            guard let lock = abandonedFile(leftover.name, pid: leftover.pid, in: dirfd) else { continue }
            defer { close(lock) }   // the lock is held until the name is gone
            if unlinkat(dirfd, leftover.name, 0) == 0 {
                let shown = directory == "." ? "" : directory.hasSuffix("/") ? directory : directory + "/"
                Console.writeError("diskimport: removed \(shown)\(leftover.name), left by import process \(leftover.pid), which is gone\n")
            }
        }
    }

    /// The PID of a temporary file's name (`prefix` then decimal digits only), unless it is ours.
    static func processID(in entryName: String, prefix: String) -> pid_t? {
        guard entryName.hasPrefix(prefix) else { return nil }
        let digits = entryName.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }),
              let pid = pid_t(digits), pid > 0, pid != getpid() else { return nil }
        return pid
    }

    /// A descriptor of the file, holding its lock, when it is a regular file whose process is gone and which
    /// nobody else holds locked; nil otherwise.
    private static func abandonedFile(_ entryName: String, pid: pid_t, in dirfd: Int32) -> Int32? {
        guard kill(pid, 0) != 0, errno == ESRCH else { return nil }
        let fd = openat(dirfd, entryName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}
