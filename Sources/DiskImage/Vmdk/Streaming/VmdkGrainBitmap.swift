import DiskImportCore

/// One bit per grain of the guest: which grains a stream has placed, so that a grain placed twice is refused and
/// the ones never placed are written as zeros at the end. 4 MiB for a 2 TiB disk of 64 KiB grains.
struct VmdkGrainBitmap {
    private var words: [UInt64]
    let count: UInt64

    init(count: UInt64) {
        self.count = count
        words = [UInt64](repeating: 0, count: Int((count + 63) / 64))
    }

    /// Marks grain `index`; false when it was marked already.
    mutating func insert(_ index: UInt64) -> Bool {
        let word = Int(index / 64), mask = UInt64(1) << (index % 64)
        if words[word] & mask != 0 { return false }
        words[word] |= mask
        return true
    }

    /// The runs of grains never marked, in order, as grain index ranges.
    func gaps() -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        var index: UInt64 = 0
        while index < count {
            let word = words[Int(index / 64)]
            if word == .max && index % 64 == 0 { index += 64; continue }
            if word & (UInt64(1) << (index % 64)) != 0 { index += 1; continue }
            let start = index
            while index < count && words[Int(index / 64)] & (UInt64(1) << (index % 64)) == 0 {
                if index % 64 == 0 && words[Int(index / 64)] == 0 { index += 64 } else { index += 1 }
            }
            result.append(start..<min(index, count))
        }
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
