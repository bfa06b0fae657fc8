import Synchronization

/// Counters that every stage of an import updates and that progress displays and metrics read.
///
/// Lock-free: stages on different threads add to them in their hot loops.
public final class TransferProgress: Sendable {
    private let sourceBytesCounter = Atomic<UInt64>(0)
    private let sourceTotalValue = Atomic<UInt64>(0)
    private let guestBytesCounter = Atomic<UInt64>(0)
    private let guestTotalValue = Atomic<UInt64>(0)
    private let writtenBytesCounter = Atomic<UInt64>(0)
    private let holeBytesCounter = Atomic<UInt64>(0)
    private let clonedBytesCounter = Atomic<UInt64>(0)
    private let sharedWithReferenceCounter = Atomic<UInt64>(0)

    public init() {}

    /// Bytes taken from the transport (compressed, as downloaded or read from disk).
    public var sourceBytes: UInt64 { sourceBytesCounter.load(ordering: .relaxed) }
    public func addSourceBytes(_ n: UInt64) { sourceBytesCounter.add(n, ordering: .relaxed) }
    /// Takes back bytes counted for a transfer that starts again (an upload retried from an earlier offset).
    public func rewindSourceBytes(by n: UInt64) { sourceBytesCounter.subtract(n, ordering: .relaxed) }

    /// The transport's total length, 0 while unknown.
    public var sourceTotal: UInt64 { sourceTotalValue.load(ordering: .relaxed) }
    public func setSourceTotal(_ n: UInt64) { sourceTotalValue.store(n, ordering: .relaxed) }

    /// Guest bytes placed in the target (data, zeros and holes alike).
    public var guestBytes: UInt64 { guestBytesCounter.load(ordering: .relaxed) }
    public func addGuestBytes(_ n: UInt64) { guestBytesCounter.add(n, ordering: .relaxed) }

    /// The image's virtual size, 0 while unknown.
    public var guestTotal: UInt64 { guestTotalValue.load(ordering: .relaxed) }
    public func setGuestTotal(_ n: UInt64) { guestTotalValue.store(n, ordering: .relaxed) }

    /// Bytes actually written to the target (zero runs skipped as holes are not counted).
    public var writtenBytes: UInt64 { writtenBytesCounter.load(ordering: .relaxed) }
    public func addWrittenBytes(_ n: UInt64) { writtenBytesCounter.add(n, ordering: .relaxed) }

    /// Guest bytes that read as zeros without being written: holes left in a file, ranges zeroed on a block
    /// device with BLKZEROOUT.
    public var holeBytes: UInt64 { holeBytesCounter.load(ordering: .relaxed) }
    public func addHoleBytes(_ n: UInt64) { holeBytesCounter.add(n, ordering: .relaxed) }

    /// The part of `writtenBytes` that shares the source's blocks (a reflink clone) instead of copying them.
    public var clonedBytes: UInt64 { clonedBytesCounter.load(ordering: .relaxed) }
    public func addClonedBytes(_ n: UInt64) { clonedBytesCounter.add(n, ordering: .relaxed) }

    /// The part of `writtenBytes` that shares the blocks of a reference volume (`--reference`): found there by
    /// content and cloned instead of stored again.
    public var sharedWithReferenceBytes: UInt64 { sharedWithReferenceCounter.load(ordering: .relaxed) }
    public func addSharedWithReferenceBytes(_ n: UInt64) { sharedWithReferenceCounter.add(n, ordering: .relaxed) }

    /// Completion as a fraction in 0...1: by source bytes while the source length is known, else by guest bytes.
    public var fraction: Double {
        let total = sourceTotal
        if total > 0 { return min(1, Double(sourceBytes) / Double(total)) }
        let guest = guestTotal
        if guest > 0 { return min(1, Double(guestBytes) / Double(guest)) }
        return 0
    }
}

/// Counts the bytes that pass through it into `progress.sourceBytes`.
public final class CountingStream: ByteStream {
    private let upstream: ByteStream
    private let progress: TransferProgress

    public init(_ upstream: ByteStream, progress: TransferProgress) {
        self.upstream = upstream
        self.progress = progress
        if let n = upstream.expectedLength { progress.setSourceTotal(n) }
    }

    public var expectedLength: UInt64? { upstream.expectedLength }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        progress.addSourceBytes(UInt64(n))
        return n
    }
}
