import DiskImportCore

/// One bit per grain of the guest: which grains a stream has placed, so that a grain placed twice is refused and
/// the ones never placed are written as zeros at the end. Only the 64-grain words holding a placed grain are kept:
/// memory follows the grains the stream carries, not the capacity its header claims (a hostile header claims up to
/// 2^54 grains, and a bitmap of them all was an allocation of petabytes).
struct VmdkGrainBitmap {
    private var words: [UInt64: UInt64] = [:]
    let count: UInt64

    init(count: UInt64) { self.count = count }

    /// Marks grain `index`; false when it was marked already.
    mutating func insert(_ index: UInt64) -> Bool {
        let word = index / 64, mask = UInt64(1) << (index % 64)
        let bits = words[word, default: 0]
        if bits & mask != 0 { return false }
        words[word] = bits | mask
        return true
    }

    /// The runs of grains never marked, in order, as grain index ranges.
    func gaps() -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        var gapStart: UInt64 = 0
        for word in words.keys.sorted() {
            var bits = words[word] ?? 0
            while bits != 0 {
                let index = word * 64 + UInt64(bits.trailingZeroBitCount)
                guard index < count else { break }
                if index > gapStart { result.append(gapStart..<index) }
                gapStart = index + 1
                bits &= bits - 1
            }
        }
        if gapStart < count { result.append(gapStart..<count) }
        return result
    }
}

extension VmdkGrainBitmap {
    /// Writes zeros over every grain never marked (the last one cut at `virtualSize`).
    func writeZerosOverGaps(grainBytes: UInt64, virtualSize: UInt64, sink: ExtentSink, progress: TransferProgress) throws {
        for gap in gaps() {
            let start = gap.lowerBound * grainBytes, end = min(virtualSize, gap.upperBound * grainBytes)
            guard start < end else { continue }
            try sink.writeZeros(at: start, length: end - start)
            progress.addGuestBytes(end - start)
        }
    }
}
