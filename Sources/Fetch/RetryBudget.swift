import DiskImportCore

/// When a failed request is tried again, how long to wait first, and when to give up: the one retry rule of the HTTP
/// layer (whole-body downloads, ranged reads, small requests).
///
/// - At most `options.retries` failures in a row, and no retry once they have taken `options.retryMaxTime` (curl's
///   `--retry-max-time`). An attempt that delivered new bytes ends the run of failures.
/// - Exponential back-off, `retryDelay` doubled per failure up to `maximumRetryDelay`, each wait drawn from 50% to
///   150% of that (jitter: many importers cut off by one outage do not come back in lockstep).
/// - Each retry is one line on stderr: the reason, the attempt, the wait. A network that fails slowly is then never
///   silent.
struct RetryBudget {
    let options: HTTPOptions
    private(set) var failuresInARow = 0
    /// When the current run of failures began (the start of its first attempt).
    private var runStarted: Double
    private var random = SystemRandomNumberGenerator()

    init(options: HTTPOptions) {
        self.options = options
        runStarted = Monotonic.now()
    }

    /// The attempt that just failed delivered new bytes: its failure is the first of a new run, which began when the
    /// bytes stopped.
    mutating func madeProgress() {
        failuresInARow = 0
        runStarted = Monotonic.now()
    }

    /// After `failure`: the seconds to wait before the next attempt, announced on stderr (`resumingAt`, when given,
    /// says where the next attempt continues), or the error that ends the transfer.
    mutating func delay(after failure: TransferFailure, resumingAt offset: UInt64? = nil) throws -> Double {
        guard failure.retryable else { throw failure.error }
        failuresInARow += 1
        let elapsed = Monotonic.now() - runStarted
        if failuresInARow > options.retries {
            throw DiskImportError(failure.error.kind, "\(failure.error.message) (gave up after \(options.retries) retries)")
        }
        let wait = Self.backoff(failures: failuresInARow, options: options, using: &random)
        if elapsed + wait > options.retryMaxTime {
            throw DiskImportError(failure.error.kind, "\(failure.error.message) (gave up after \(failuresInARow) failed attempts "
                + "in \(Self.seconds(elapsed)) s: --retry-max-time \(Self.seconds(options.retryMaxTime)))")
        }
        let from = offset.map { $0 > 0 ? " from byte \($0)" : "" } ?? ""
        Console.writeError("diskimport: warning: \(failure.error.message); retry \(failuresInARow) of \(options.retries)\(from) "
            + "in \(Self.seconds(wait)) s\n")
        return wait
    }

    /// The wait after `failures` failures in a row: `retryDelay` doubled per failure up to `maximumRetryDelay`, times
    /// a factor drawn from 0.5 to 1.5.
    static func backoff(failures: Int, options: HTTPOptions, using random: inout some RandomNumberGenerator) -> Double {
        let base = min(options.maximumRetryDelay, options.retryDelay * Double(1 << min(max(failures, 1) - 1, 20)))
        return base * Double.random(in: 0.5...1.5, using: &random)
    }

    /// "0.6", "12", "1.5": one decimal below 10 s, whole seconds above.
    static func seconds(_ value: Double) -> String {
        if value >= 10 { return String(Int(value.rounded())) }
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(tenths % 10)"
    }
}
