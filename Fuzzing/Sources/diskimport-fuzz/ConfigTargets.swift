import CronController
import DiskImportCore
import ImporterPod

/// The small value syntaxes read from users and from CDI's environment: Kubernetes quantities, Go's bools, cron
/// schedules (and the next times they fire), RFC 3339 instants.
enum ValuesTarget {
    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes.prefix(1024), as: UTF8.self)
        if let size = try? Quantity.bytes(text) { _ = Quantity.describe(size) }
        _ = GoStrconv.parseBool(text)
        _ = try? UTCInstant(rfc3339: text)
        if let schedule = try? CronSchedule(parsing: text) {
            var instant = UTCInstant(secondsSinceEpoch: Int64(inputHash(bytes) % 4_000_000_000))
            for _ in 0..<4 {
                guard let next = try? schedule.next(after: instant) else { break }
                precondition(next > instant && schedule.matches(next), "\(schedule) fired at \(next), not after \(instant)")
                instant = next
            }
        }
    }
}

/// `--config` files: DataImportCron objects, lists of them, HyperConverged objects and their templates, and the
/// storage class file.
enum CronConfigTarget {
    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? CronConfigLoader.parse(yaml: text, source: "fuzz", architectures: ["amd64", "arm64"])
        _ = try? StorageClasses.parse(yaml: text, source: "fuzz")
    }
}
