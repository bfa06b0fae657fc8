import Testing
@testable import DiskImage

/// The last sector of an image written in pieces in any order is what the trailer sniffer sees.
@Suite struct TrailerWindowTests {
    static func image(_ length: Int) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) } }

    /// Cuts `bytes` at `cuts` and offers the pieces in `order`.
    static func offered(_ bytes: [UInt8], cuts: [Int], order: [Int]) -> [UInt8] {
        let bounds = [0] + cuts + [bytes.count]
        let window = TrailerWindow()
        for piece in order {
            let range = bounds[piece]..<bounds[piece + 1]
            Array(bytes[range]).withUnsafeBytes { window.offer($0, at: UInt64(range.lowerBound)) }
        }
        return window.trailer(endingAt: UInt64(bytes.count))
    }

    @Test(arguments: [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]])
    func piecesInAnyOrderLeaveTheLastSector(_ order: [Int]) {
        let bytes = Self.image(5000)
        // The last sector spans the last three pieces: 4700..<4900 and 4900..<4990 are shorter than it.
        #expect(Self.offered(bytes, cuts: [4700, 4900, 4990], order: order) == Array(bytes.suffix(512)))
    }

    @Test func anImageShorterThanASectorGivesAllItHas() {
        let bytes = Self.image(300)
        #expect(Self.offered(bytes, cuts: [100], order: [1, 0]) == bytes)
    }

    @Test func aWindowThatDoesNotEndAtTheImagesEndGivesNothing() {
        let window = TrailerWindow()
        Self.image(1000).withUnsafeBytes { window.offer($0, at: 0) }
        #expect(window.trailer(endingAt: 2000).isEmpty)
    }
}
