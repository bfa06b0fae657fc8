#if canImport(Glibc)
import Glibc
#endif

/// Environment variables that override a tuning default, for measurement (`DISKIMPORT_XZ_THREADS=3 scripts/bench …`);
/// never needed to run an import.
public enum MeasurementKnob {
    /// The positive integer in environment variable `name` (`getenv`), or nil when it is unset, not a number, or not
    /// above zero (the default then applies).
    public static func positiveInteger(_ name: String) -> Int? {
        guard let text = getenv(name), let value = Int(String(cString: text)), value > 0 else { return nil }
        return value
    }
}
