import Logging

/// The loggers diskimport's layers use; the executable bootstraps the backend (stderr, level from flags).
public enum Log {
    public static func logger(_ label: String) -> Logger { Logger(label: "diskimport.\(label)") }
}
