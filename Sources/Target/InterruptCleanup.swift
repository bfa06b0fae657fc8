import CLinux
import DiskImportCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A temporary file that is unlinked if the process is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT) before it is
/// published or removed, so no half-written file survives under a name that looks complete or that nobody removes.
///
/// The signal handler lives in CLinux (`clinux_cleanup_register`): it must be async-signal-safe, which rules out
/// Swift code.
final class InterruptCleanup: Sendable {
    private let slot: Mutex<Int32>

    /// Arms the cleanup of `path`.
    init(path: String) throws {
        let slot = clinux_cleanup_register(path)
        if slot < 0 {
            throw DiskImportError(.limit, "cannot arm interrupt cleanup for \(path): \(Errno(rawValue: errno).description)")
        }
        self.slot = Mutex(slot)
    }

    /// Disarms it (once): the file was renamed into place or removed.
    func disarm() {
        slot.withLock { slot in
            if slot >= 0 { clinux_cleanup_unregister(slot) }
            slot = -1
        }
    }

    deinit { disarm() }
}
