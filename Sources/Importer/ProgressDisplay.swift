import Dispatch
import DiskImportCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr, redrawn about four times a second from `TransferProgress`, cleared at the end:
///
///      42% [===========>                ] 860.0 MiB / 2.0 GiB  512.3 MiB/s  ETA 0:02
/// `@unchecked Sendable`: the timer is only resumed and cancelled, which Dispatch allows from any thread; the rest
/// is immutable or behind the mutex.
public final class ProgressDisplay: @unchecked Sendable {
    private let progress: TransferProgress
    private let timer: DispatchSourceTimer
    private let state = Mutex(State())

    private struct State {
        var stopped = false
        /// Recent (seconds, bytes) samples; the rate is measured over the oldest one still kept.
        var samples: [(time: Double, bytes: UInt64)] = []
    }

    /// Samples older than this drop out of the rate, so it follows the current speed.
    static let rateWindow = 3.0

    /// Whether stderr is a terminal: the default for `--progress`.
    public static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    public init(progress: TransferProgress, interval: Double = 0.25) {
        self.progress = progress
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "diskimport.progress"))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.redraw() }
        timer.resume()
    }

    /// Stops redrawing and clears the line.
    public func stop() {
        state.withLock { state in
            guard !state.stopped else { return }
            state.stopped = true
            Console.writeError("\r\u{1B}[K")
        }
        timer.cancel()
    }

    deinit { stop() }

    private func redraw() {
        let now = MonotonicClock.now()
        let (done, total) = progress.sourceTotal > 0 ? (progress.sourceBytes, progress.sourceTotal) : (progress.guestBytes, progress.guestTotal)
        state.withLock { state in
            guard !state.stopped else { return }
            state.samples.append((now, done))
            while state.samples.count > 2, now - state.samples[1].time >= Self.rateWindow { state.samples.removeFirst() }
            let first = state.samples[0]
            let elapsed = now - first.time
            let rate = elapsed > 0 ? Double(done &- min(done, first.bytes)) / elapsed : 0
            Console.writeError("\r" + Self.line(done: done, total: total, rate: rate) + "\u{1B}[K")
        }
    }

    /// The bar for `done` of `total` bytes (total 0 when unknown) at `rate` bytes per second.
    public static func line(done: UInt64, total: UInt64, rate: Double, width: Int = 30) -> String {
        var text = ""
        if total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * Double(width))
            let percent = String(Int(fraction * 100))
            text += String(repeating: " ", count: max(0, 3 - percent.count)) + percent + "% ["
            text += String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            text += String(repeating: " ", count: max(0, width - filled - 1)) + "] "
            text += Quantity.describe(done) + " / " + Quantity.describe(total)
        } else {
            text += Quantity.describe(done)
        }
        text += "  " + Quantity.describe(UInt64(max(0, rate))) + "/s"
        if total > done, rate > 0 {
            text += "  ETA " + duration(Double(total - done) / rate)
        }
        return text
    }

    /// `0:42`, `12:05`, `1:02:03`.
    static func duration(_ seconds: Double) -> String {
        let s = Int(min(seconds.rounded(.up), 359_999))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return s >= 3600 ? "\(s / 3600):\(two(s / 60 % 60)):\(two(s % 60))" : "\(s / 60):\(two(s % 60))"
    }
}
