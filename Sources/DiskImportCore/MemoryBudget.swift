import Synchronization

/// The memory one import may spend on its large buffers, which every stage that holds one draws from (issue 17 §4),
/// so that together they stay inside the importer pod's 128 MiB whatever the image's layout: the compressed .xz
/// blocks waiting for a worker, the workers' decoders, and the streaming readers' memory tier for data that arrives
/// before its table.
///
/// Stages take their share when they start and give it back when they end. A stage that cannot work with less than
/// some minimum gets that minimum even past the budget (a cluster, one block), so that no import deadlocks; everything
/// above the minimum is granted only while the budget lasts, and a stage granted less works with less (fewer blocks in
/// flight, an earlier spill to scratch).
public final class MemoryBudget: Sendable {
    /// 128 MiB less what the binary, its libraries, thread stacks and the small buffers (transfer queues, libcurl's
    /// receive buffers) take: 24-30 MiB measured (`/usr/bin/time -f %M` of the release build's imports whose buffers
    /// were idle). `DISKIMPORT_MEMORY_BUDGET_MIB` overrides it, for measurement.
    public static let defaultBytes: Int = {
        if let mebibytes = MeasurementKnob.positiveInteger("DISKIMPORT_MEMORY_BUDGET_MIB") { return min(mebibytes, 1 << 16) << 20 }
        return 92 << 20
    }()

    public let totalBytes: Int
    private let usedBytes = Mutex(0)

    public init(bytes: Int = MemoryBudget.defaultBytes) {
        totalBytes = bytes
    }

    /// Takes `wanted` bytes, or what is left of the budget when that is less, but never less than `minimum`; returns
    /// the bytes granted, which the caller gives back with `giveBack` when the stage ends.
    public func take(upTo wanted: Int, atLeast minimum: Int = 0) -> Int {
        usedBytes.withLock { used in
            let granted = max(minimum, min(wanted, totalBytes - used))
            used += granted
            return granted
        }
    }

    public func giveBack(_ bytes: Int) {
        usedBytes.withLock { $0 -= bytes }
    }

    /// Bytes not taken (negative when minimums went past the budget).
    public var availableBytes: Int { usedBytes.withLock { totalBytes - $0 } }
}
