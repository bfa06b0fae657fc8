import Dispatch
import DiskImportCore
import Synchronization
import Target

#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr, from `TransferProgress`:
///
/// - on a terminal, a one-line bar redrawn about four times a second and erased at the end (and on SIGINT, SIGTERM,
///   SIGHUP or SIGQUIT, by the cleanup handler, so the shell's prompt never lands in half a bar):
///
///        42% [===========>                ] 860.0 MiB / 2.0 GiB  512.3 MiB/s  ETA 0:02
/// - anywhere else (a log file, a pipe, a pod's log), a plain line every few seconds and one at the end, with no
///   carriage returns or escape sequences:
///
///        diskimport: progress: 42% 860.0 MiB / 2.0 GiB  512.3 MiB/s  ETA 0:02
///
/// `@unchecked Sendable`: the timer is only resumed and cancelled, which Dispatch allows from any thread; the rest
/// is immutable or behind the mutex.
public final class ProgressDisplay: @unchecked Sendable {
    public enum Style: Sendable {
        /// Redrawn in place with `\r` and `ESC[K`.
        case terminal
        /// One line per report.
        case lines
    }

    private let progress: TransferProgress
    private let style: Style
    private let timer: DispatchSourceTimer
    private let state = Mutex(State())

    private struct State {
        var stopped = false
        /// Recent (seconds, bytes) samples; the rate is measured over the oldest one still kept.
        var samples: [(time: Double, bytes: UInt64)] = []
        var started = MonotonicClock.now()
    }

    /// Samples older than this drop out of the rate, so it follows the current speed.
    static let rateWindow = 3.0
    /// How often a bar is redrawn, and how often a line is written where there is no terminal.
    public static let terminalInterval = 0.25
    public static let lineInterval = 5.0

    /// Whether stderr is a terminal: the default for `--progress`, and what picks the style.
    public static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    public init(progress: TransferProgress, style: Style = standardErrorIsTerminal ? .terminal : .lines, interval: Double? = nil) {
        self.progress = progress
        self.style = style
        let interval = interval ?? (style == .terminal ? Self.terminalInterval : Self.lineInterval)
        if style == .terminal { InterruptedProgressLine.drawn(true) }
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "diskimport.progress"))
        // A terminal shows the bar from the start; a log gets its first line after one interval.
        timer.schedule(deadline: .now() + (style == .terminal ? Self.terminalInterval : interval), repeating: interval)
        timer.setEventHandler { [weak self] in self?.report() }
        timer.resume()
    }

    /// The import is complete: a log gets a last line saying so (a bar is erased, as by `stop`).
    public func finish() {
        if style == .lines {
            state.withLock { state in
                guard !state.stopped else { return }
                let (done, _) = amounts()
                let seconds = MonotonicClock.now() - state.started
                Console.writeError("diskimport: progress: 100% \(Quantity.describe(done)) in \(ProgressDisplay.duration(seconds))\n")
            }
        }
        stop()
    }

    /// Stops reporting; erases the bar.
    public func stop() {
        state.withLock { state in
            guard !state.stopped else { return }
            state.stopped = true
            if style == .terminal {
                Console.writeError("\r\u{1B}[K")
                InterruptedProgressLine.drawn(false)
            }
        }
        timer.cancel()
    }

    deinit { stop() }

    /// Source bytes of the source's length when it is known, else guest bytes of the virtual size.
    private func amounts() -> (done: UInt64, total: UInt64) {
        progress.sourceTotal > 0 ? (progress.sourceBytes, progress.sourceTotal) : (progress.guestBytes, progress.guestTotal)
    }

    private func report() {
        let now = MonotonicClock.now()
        let (done, total) = amounts()
        state.withLock { state in
            guard !state.stopped else { return }
            state.samples.append((now, done))
            while state.samples.count > 2, now - state.samples[1].time >= Self.rateWindow { state.samples.removeFirst() }
            let first = state.samples[0]
            let elapsed = now - first.time
            let rate = elapsed > 0 ? Double(done &- min(done, first.bytes)) / elapsed : 0
            switch style {
            case .terminal: Console.writeError("\r" + Self.line(done: done, total: total, rate: rate) + "\u{1B}[K")
            case .lines:
                let line = Self.line(done: done, total: total, rate: rate, width: 0).drop(while: { $0 == " " })
                Console.writeError("diskimport: progress: \(line)\n")
            }
        }
    }

    /// The report for `done` of `total` bytes (total 0 when unknown) at `rate` bytes per second, with a bar `width`
    /// characters wide (0: no bar).
    public static func line(done: UInt64, total: UInt64, rate: Double, width: Int = 30) -> String {
        var text = ""
        if total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let percent = String(Int(fraction * 100))
            text += String(repeating: " ", count: max(0, 3 - percent.count)) + percent + "% "
            if width > 0 {
                let filled = Int(fraction * Double(width))
                text += "[" + String(repeating: "=", count: filled) + (filled < width ? ">" : "")
                text += String(repeating: " ", count: max(0, width - filled - 1)) + "] "
            }
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
