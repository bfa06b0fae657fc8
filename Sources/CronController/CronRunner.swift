import DiskImportCore
import Fetch
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `diskimport cron run`: tick, sleep until the next cron is due (or a failed one should be retried), re-read the
/// configuration, tick again. The first tick runs at once, so a cron whose last poll is overdue (or that never
/// polled) polls on start, as CDI's initial job does.
public struct CronRunner {
    public let controller: DataImportCronController
    public let configPath: String
    /// The cluster's architectures the configuration is re-read with (`--architectures`).
    public var architectures = CronConfigLoader.defaultArchitectures
    public let logger: Logger
    /// The `--metrics-port` gauge, told of each re-read configuration.
    public var metric: CronOutdatedMetric?

    /// Retries of a failed poll or import wait 30 s, doubling per consecutive failure, at most 15 minutes,
    /// and never later than the cron's next scheduled poll.
    static let firstRetryDelay: Int64 = 30
    static let maximumRetryDelay: Int64 = 900
    /// With nothing scheduled, the configuration is still re-read this often.
    static let idleWake: Int64 = 3600

    public init(controller: DataImportCronController, configPath: String, logger: Logger = Log.logger("cron")) {
        self.controller = controller
        self.configPath = configPath
        self.logger = logger
    }

    /// Runs until `shouldStop` says so (checked after each tick); `clock` and `sleep` are injectable for tests.
    public func run(initial config: CronConfig, clock: () -> UTCInstant = CronRunner.systemClock,
                    sleep: (Int64) -> Void = CronRunner.systemSleep, shouldStop: () -> Bool = { false }) throws {
        var config = config
        while true {
            let now = clock()
            let result = try controller.tick(config, now: now)
            // The reconciler leaves a cron's failure to its presenter, so it is logged once (an error that stopped a
            // reconcile is a failed outcome too).
            for outcome in result.outcomes {
                switch outcome.action {
                case .failed(let message): logger.error("\(outcome.cron): \(message)")
                case .waiting(let message): logger.warning("\(outcome.cron): waiting: \(message)")
                default: break
                }
            }
            if shouldStop() { return }
            let wake = Self.nextWake(try controller.scheduled(config), statuses: try controller.store.crons(), now: now)
                ?? now.adding(seconds: Self.idleWake)
            let seconds = max(1, wake.secondsSinceEpoch - clock().secondsSinceEpoch)
            logger.info("next tick at \(wake)")
            sleep(seconds)
            do {
                config = try CronConfigLoader.load(path: configPath, architectures: architectures)
                for warning in config.warnings { logger.warning("\(warning)") }
                metric?.update(config)
            } catch {
                logger.error("keeping the previous configuration: \(CronReconciler.oneLine(error))")
            }
        }
    }

    /// The earliest moment any cron needs a tick: its next scheduled poll, or sooner a retry after failures.
    static func nextWake(_ config: CronConfig, statuses: [CronStatusRecord], now: UTCInstant) -> UTCInstant? {
        let byName = Dictionary(statuses.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var earliest: UTCInstant?
        for cron in config.crons {
            let status = byName[cron.name]
            var wake: UTCInstant? = CronStatusReport.nextPoll(cron, status, now)
            if let status, status.consecutiveFailures > 0 {
                // A failed poll leaves the cron overdue; its retry waits for the backoff instead.
                let exponent = min(status.consecutiveFailures - 1, 10)
                let delay = min(firstRetryDelay << Int64(exponent), maximumRetryDelay)
                let retry = (status.lastAttempt ?? now).adding(seconds: delay)
                wake = wake.map { $0 > now ? min($0, retry) : retry } ?? retry
            }
            if let wake { earliest = earliest.map { min($0, wake) } ?? wake }
        }
        return earliest.map { max($0, now) }
    }

    public static func systemClock() -> UTCInstant {
        UTCInstant(secondsSinceEpoch: Int64(time(nil)))
    }

    public static func systemSleep(_ seconds: Int64) {
        Monotonic.sleep(Double(seconds))
    }
}
