import DiskImportCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How `cron run` stops on SIGTERM (Kubernetes ending the pod) or SIGINT (Ctrl-C): the signals are blocked and one
/// thread takes them with sigwait(3), so the shutdown runs as ordinary code rather than in a signal handler.
///
/// A handler of our own matters beyond tidiness: as a container's PID 1 the kernel drops any signal left at its
/// default action, so without one `cron run` would ignore SIGTERM until the kubelet's SIGKILL. Blocking also
/// covers a parent that handed us these signals blocked (Foundation's `Process` passes its mask on): sigwait takes
/// blocked signals, which the default action never would.
public final class StopSignals: Sendable {
    public static let signals: [Int32] = [SIGTERM, SIGINT]

    private let actions = Mutex<[@Sendable () -> Void]>([])

    private init() {}

    /// Runs `action` when a stop signal arrives (actions run in the order added).
    public func onStop(_ action: @escaping @Sendable () -> Void) {
        actions.withLock { $0.append(action) }
    }

    /// Blocks `signals` in the calling thread (call it before starting other threads: they inherit the mask) and
    /// starts the thread that waits for them. On the first one it runs the `onStop` actions, then ends the process by that
    /// signal: raise(3) with the signal unblocked runs whatever handler the import installed (InterruptCleanup
    /// unlinks its temporary files) or the default action; as PID 1, where the default action is dropped, _exit(2)
    /// with 128 + the signal number, as a shell reports it.
    public static func install() -> StopSignals {
        let stopSignals = StopSignals()
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waiter = Thread {
            var set = signalSet()
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { return }
            Console.writeError("diskimport: cron run: stopping on \(name(received))\n")
            for action in stopSignals.actions.withLock({ $0 }) { action() }
            var one = sigset_t()
            sigemptyset(&one)
            sigaddset(&one, received)
            pthread_sigmask(SIG_UNBLOCK, &one, nil)
            raise(received)
            _exit(128 + received)
        }
        waiter.name = "cron-stop-signals"
        waiter.start()
        return stopSignals
    }

    static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }

    static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        default: "signal \(signal)"
        }
    }
}
