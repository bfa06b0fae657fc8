import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A tmpfs of a few MiB mounted on an existing empty directory for one test (root only); unmounted when released.
/// For the fault tests that need the target's own directory (a pod's data volume, a cron's volumes) to be small.
final class TmpfsMount {
    let path: String

    init(at path: String, megabytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Harness.tool("mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path)
    }

    /// Fills the filesystem but `leaving` bytes with a file named `ballast` of random bytes (a second writer).
    func fill(leaving: Int) throws {
        let free = try availableBytes()
        let ballast = Int(free) - leaving
        guard ballast > 0 else { return }
        try Harness.tool("dd", "if=/dev/urandom", "of=\(path)/ballast", "bs=64K", "count=\(ballast / 65536)", "status=none")
    }

    func availableBytes() throws -> UInt64 {
        let fields = try Harness.tool("stat", "-f", "-c", "%a %S", path).stdout
            .split(separator: " ").compactMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(fields.count == 2)
        return fields[0] * fields[1]
    }

    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    deinit { _ = try? Harness.run("umount", ["-l", path]) }
}

/// A seeded generator (SplitMix64) so a run of random fault points can be repeated: the tests print the seed, and
/// DISKIMPORT_FAULT_SEED replays one.
struct FaultRandom: RandomNumberGenerator {
    let seed: UInt64
    private var state: UInt64

    init() {
        seed = ProcessInfo.processInfo.environment["DISKIMPORT_FAULT_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Interrupting a running process: waits for it with a deadline, and reads how it ended.
enum Interrupt {
    /// Waits up to `seconds` for `process` to end; true if it did.
    static func wait(_ process: Process, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        return !process.isRunning
    }

    /// Ended by `signal`: killed by it, or (a handler that cleaned up and exited as a shell reports it) exit 128+signal.
    static func endedBy(_ signal: Int32, _ process: Process) -> Bool {
        (process.terminationReason == .uncaughtSignal && process.terminationStatus == signal)
            || (process.terminationReason == .exit && process.terminationStatus == 128 + signal)
    }

    /// Hidden files diskimport keeps only while it works, under `directory`: target temporaries, scratch spools,
    /// archive staging, a cron's import markers and the temporaries of its atomically written records.
    static func leftovers(in directory: String) -> [String] {
        let names = (try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? []
        return names.filter {
            let name = ($0 as NSString).lastPathComponent
            return name.contains(".diskimport") || name == ".importing" || (name.hasPrefix(".") && name.contains(".tmp-"))
        }
    }
}
