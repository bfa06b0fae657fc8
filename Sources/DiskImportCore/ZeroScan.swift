/// Finding zeros in guest data, so zero runs become holes instead of written blocks.
public enum ZeroScan {
    /// Whether every byte of `bytes` is zero.
    @inlinable
    public static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var i = 0
        // Word-at-a-time; the compiler vectorises the OR-reduction in release builds.
        let words = count / 8
        if words > 0 {
            var acc: UInt64 = 0
            var w = 0
            while w < words {
                acc |= base.loadUnaligned(fromByteOffset: w &* 8, as: UInt64.self)
                if acc != 0 { return false }
                w &+= 1
            }
            i = words &* 8
        }
        while i < count {
            if base.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
            i &+= 1
        }
        return true
    }

    /// Calls `body` for each maximal run of `bytes` that is data (`isZero == false`) or zeros (`isZero == true`),
    /// judged in aligned blocks of `granularity` bytes relative to `offset` (the guest offset of `bytes`).
    /// Blocks only partly inside `bytes` count as data unless they are zero too.
    @inlinable
    public static func forEachRun(
        in bytes: UnsafeRawBufferPointer, offset: UInt64, granularity: Int = 4096,
        _ body: (_ range: Range<Int>, _ isZero: Bool) throws -> Void
    ) rethrows {
        let count = bytes.count
        guard count > 0 else { return }
        var runStart = 0
        var runIsZero: Bool? = nil
        var position = 0
        while position < count {
            let misalignment = Int((offset &+ UInt64(position)) % UInt64(granularity))
            let end = min(count, position + granularity - misalignment)
            let zero = isZero(UnsafeRawBufferPointer(rebasing: bytes[position..<end]))
            if let current = runIsZero, current != zero {
                try body(runStart..<position, current)
                runStart = position
            }
            runIsZero = zero
            position = end
        }
        try body(runStart..<count, runIsZero!)
    }
}
