import DiskImportCore

/// Splits guest bytes into the runs a target stores (data) and the runs it leaves to read as zeros.
enum ZeroRuns {
    /// The block size zero runs are judged at, relative to the guest offset: qemu-img's default (`-S 4k`),
    /// and the page and filesystem block size, so every skipped run is a whole block of the output.
    static let granularity = 4096

    /// Calls `body` for maximal data and zero runs of `bytes` (at guest `offset`). Zero runs shorter than
    /// `minimumZeroRun` count as data: a block device would rather write a few zero blocks with their neighbours
    /// than stop for an ioctl.
    static func forEach(
        in bytes: UnsafeRawBufferPointer, offset: UInt64, minimumZeroRun: Int,
        _ body: (_ range: Range<Int>, _ isZero: Bool) throws -> Void
    ) rethrows {
        var pendingRange = 0..<0
        var pendingIsZero = false
        try ZeroScan.forEachRun(in: bytes, offset: offset, granularity: granularity) { range, isZero in
            let zero = isZero && range.count >= minimumZeroRun
            if !pendingRange.isEmpty {
                if pendingIsZero == zero {
                    pendingRange = pendingRange.lowerBound..<range.upperBound
                    return
                }
                try body(pendingRange, pendingIsZero)
            }
            pendingRange = range
            pendingIsZero = zero
        }
        if !pendingRange.isEmpty { try body(pendingRange, pendingIsZero) }
    }
}
