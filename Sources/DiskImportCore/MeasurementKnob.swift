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

    /// The value of environment variable `name` as a `Choice` (`getenv`, then `init(rawValue:)`), or nil when it is
    /// unset or names no case (the default then applies).
    public static func choice<Choice: RawRepresentable<String>>(_ name: String, as: Choice.Type = Choice.self) -> Choice? {
        guard let text = getenv(name) else { return nil }
        return Choice(rawValue: String(cString: text))
    }
}
