import CLinux
import DiskImportCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A temporary file that is unlinked if the process is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT) before it is
/// published or removed, so no half-written file survives under a name that looks complete or that nobody removes;
/// or a file written in place, which is emptied instead.
///
/// The signal handler lives in CLinux (`clinux_cleanup_register`): it must be async-signal-safe, which rules out
/// Swift code.
public final class InterruptCleanup: Sendable {
    private let slot: Mutex<Int32>

    /// Arms the cleanup of `path`: unlinked on those signals.
    public init(path: String) throws {
        let slot = clinux_cleanup_register(path)
        if slot < 0 {
            throw DiskImportError(.limit, "cannot arm interrupt cleanup for \(path): \(Errno(rawValue: errno).description)")
        }
        self.slot = Mutex(slot)
    }

    /// Arms the cleanup of a file written in place (`path`, for messages): truncated to 0 bytes on those signals.
    init(truncating fd: FileDescriptor, path: String) throws {
        let slot = clinux_cleanup_register_truncate(fd.rawValue)
        if slot < 0 {
            throw DiskImportError(.limit, "cannot arm interrupt cleanup for \(path): \(Errno(rawValue: errno).description)")
        }
        self.slot = Mutex(slot)
    }

    /// Disarms it (once): the file was renamed into place or removed.
    public func disarm() {
        slot.withLock { slot in
            if slot >= 0 { clinux_cleanup_unregister(slot) }
            slot = -1
        }
    }

    deinit { disarm() }
}

/// Tells the interrupt handler whether a progress bar is drawn on the terminal, so that SIGINT and the other stop
/// signals erase it before the process ends (else the shell's prompt lands after half a bar).
public enum InterruptedProgressLine {
    public static func drawn(_ drawn: Bool) { clinux_cleanup_progress_line(drawn ? 1 : 0) }
}
