@testable import Target
import Testing

@Suite struct ZeroRunsTests {
    private func runs(_ bytes: [UInt8], offset: UInt64 = 0, minimumZeroRun: Int) -> [(Range<Int>, Bool)] {
        var result: [(Range<Int>, Bool)] = []
        bytes.withUnsafeBytes { buffer in
            ZeroRuns.forEach(in: buffer, offset: offset, minimumZeroRun: minimumZeroRun) { result.append(($0, $1)) }
        }
        return result
    }

    @Test func everyZeroBlockIsARunWhenTheMinimumIsOne() {
        var bytes = [UInt8](repeating: 0, count: 4096 * 6)
        bytes[4096] = 1
        bytes[4096 * 3 + 5] = 1
        let r = runs(bytes, minimumZeroRun: 1)
        #expect(r.map(\.0) == [0..<4096, 4096..<8192, 8192..<12288, 12288..<16384, 16384..<24576])
        #expect(r.map(\.1) == [true, false, true, false, true])
    }

    @Test func shortZeroRunsJoinTheirDataNeighbours() {
        var bytes = [UInt8](repeating: 0, count: 4096 * 8)
        bytes[0] = 1
        bytes[4096 * 2] = 1      // one zero block between data: merged into it
        bytes[4096 * 5] = 1      // two zero blocks before it and two after: long enough to stay zero runs
        let r = runs(bytes, minimumZeroRun: 8192)
        #expect(r.map(\.0) == [0..<4096 * 3, 4096 * 3..<4096 * 5, 4096 * 5..<4096 * 6, 4096 * 6..<4096 * 8])
        #expect(r.map(\.1) == [false, true, false, true])
        // A short zero run at the start counts as data too.
        var tail = [UInt8](repeating: 0, count: 4096 * 2)
        tail[4096] = 7
        #expect(runs(tail, minimumZeroRun: 8192).map(\.1) == [false])
    }
}
