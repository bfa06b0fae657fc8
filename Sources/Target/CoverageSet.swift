/// A set of byte ranges kept as sorted, disjoint, non-adjacent intervals: what part of a disk has been written.
///
/// Touching ranges merge, so a disk written front to back (or from several threads, each front to back) stays a
/// handful of intervals whatever its size.
struct CoverageSet: Sendable {
    private(set) var intervals: [Range<UInt64>] = []

    /// Adds `range`, merging it with every interval it overlaps or touches.
    mutating func insert(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        // First interval whose end reaches the new range's start (touching counts).
        var low = 0, high = intervals.count
        while low < high {
            let mid = (low + high) / 2
            if intervals[mid].upperBound < range.lowerBound { low = mid + 1 } else { high = mid }
        }
        var end = low
        var merged = range
        while end < intervals.count, intervals[end].lowerBound <= range.upperBound {
            merged = min(merged.lowerBound, intervals[end].lowerBound)..<max(merged.upperBound, intervals[end].upperBound)
            end += 1
        }
        intervals.replaceSubrange(low..<end, with: [merged])
    }

    /// The parts of `range` that no interval covers, in order.
    func gaps(in range: Range<UInt64>) -> [Range<UInt64>] {
        var result: [Range<UInt64>] = []
        var position = range.lowerBound
        for interval in intervals where interval.upperBound > position {
            if interval.lowerBound >= range.upperBound { break }
            if interval.lowerBound > position { result.append(position..<interval.lowerBound) }
            position = max(position, interval.upperBound)
            if position >= range.upperBound { break }
        }
        if position < range.upperBound { result.append(position..<range.upperBound) }
        return result
    }

    /// Total bytes covered.
    var coveredBytes: UInt64 { intervals.reduce(0) { $0 + UInt64($1.count) } }
}
