import DiskImportCore
import Testing

@Suite struct ZeroScanTests {
    @Test func findsZeroAndDataRunsAtBlockGranularity() {
        var bytes = [UInt8](repeating: 0, count: 4096 * 5)
        bytes[4096 + 17] = 1       // block 1 is data
        bytes[4096 * 3] = 9        // block 3 is data
        var runs: [(Range<Int>, Bool)] = []
        bytes.withUnsafeBytes { buffer in
            ZeroScan.forEachRun(in: buffer, offset: 0) { runs.append(($0, $1)) }
        }
        #expect(runs.map(\.0) == [0..<4096, 4096..<8192, 8192..<12288, 12288..<16384, 16384..<20480])
        #expect(runs.map(\.1) == [true, false, true, false, true])
    }

    @Test func alignsBlocksToTheGuestOffset() {
        // 100 bytes before a block boundary, then a zero block: the partial first block is its own judgement.
        var bytes = [UInt8](repeating: 0, count: 100 + 4096)
        bytes[0] = 1
        var runs: [(Range<Int>, Bool)] = []
        bytes.withUnsafeBytes { buffer in
            ZeroScan.forEachRun(in: buffer, offset: 4096 - 100) { runs.append(($0, $1)) }
        }
        #expect(runs.map(\.0) == [0..<100, 100..<4196])
        #expect(runs.map(\.1) == [false, true])
    }
}
