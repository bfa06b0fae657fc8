import DiskImportCore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The named steps of an import, as CDI's data processor logs them.
public enum ImportPhase: String, Sendable {
    case info = "Info"
    case transfer = "Transfer"
    case convert = "Convert"
    case resize = "Resize"
    case complete = "Complete"
    case error = "Error"
}

/// Runs phases one after another and logs each with its duration.
public struct PhaseRunner {
    private let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func run<T>(_ phase: ImportPhase, _ body: () throws -> T) throws -> T {
        let start = MonotonicClock.now()
        logger.debug("phase \(phase.rawValue) started")
        do {
            let result = try body()
            logger.info("phase \(phase.rawValue) done in \(MonotonicClock.format(MonotonicClock.now() - start))")
            return result
        } catch {
            logger.info("phase \(ImportPhase.error.rawValue) during \(phase.rawValue): \(error)")
            throw error
        }
    }
}

/// Seconds on CLOCK_MONOTONIC.
public enum MonotonicClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public static func format(_ seconds: Double) -> String {
        let ms = (seconds * 1000).rounded() / 1000
        return "\(ms)s"
    }
}
