import Fetch

#if canImport(Glibc)
import Glibc
#endif

/// A clock that runs `scale` times as fast as the system's from the moment it is made, and a sleep to match:
/// `cron run --clock-scale 60` ticks a once-a-minute schedule every second, for the soak (scripts/soak) and tests.
/// Never for production: every timestamp the controller records is on the scaled clock.
public struct ScaledClock: Sendable {
    public let scale: Double
    private let origin: Double

    public init(scale: Double) {
        self.scale = scale
        origin = Self.realSeconds()
    }

    public func now() -> UTCInstant {
        UTCInstant(secondsSinceEpoch: Int64((origin + (Self.realSeconds() - origin) * scale).rounded(.down)))
    }

    /// Sleeps `seconds` of scaled time.
    public func sleep(_ seconds: Int64) {
        Monotonic.sleep(Double(seconds) / scale)
    }

    /// CLOCK_REALTIME in seconds, with its fraction.
    static func realSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
