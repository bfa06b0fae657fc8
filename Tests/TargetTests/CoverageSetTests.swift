@testable import Target
import Testing

@Suite struct CoverageSetTests {
    @Test func touchingAndOverlappingRangesMerge() {
        var set = CoverageSet()
        set.insert(10..<20)
        set.insert(30..<40)
        set.insert(20..<25)      // touches the first
        #expect(set.intervals == [10..<25, 30..<40])
        set.insert(24..<31)      // bridges both
        #expect(set.intervals == [10..<40])
        set.insert(0..<5)
        set.insert(50..<60)
        set.insert(5..<5)        // empty: ignored
        #expect(set.intervals == [0..<5, 10..<40, 50..<60])
        #expect(set.coveredBytes == 45)
    }

    @Test func gapsAreTheUncoveredPartsOfARange() {
        var set = CoverageSet()
        #expect(set.gaps(in: 0..<100) == [0..<100])
        set.insert(10..<20)
        set.insert(40..<50)
        #expect(set.gaps(in: 0..<100) == [0..<10, 20..<40, 50..<100])
        #expect(set.gaps(in: 15..<45) == [20..<40])
        #expect(set.gaps(in: 10..<20) == [])
        #expect(set.gaps(in: 0..<10) == [0..<10])
    }

    @Test func randomInsertionOrderGivesTheSameSetAsASimpleBitmap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var set = CoverageSet()
            var bitmap = [Bool](repeating: false, count: 512)
            for _ in 0..<40 {
                let start = Int.random(in: 0..<500, using: &generator)
                let end = min(512, start + Int.random(in: 0..<30, using: &generator))
                set.insert(UInt64(start)..<UInt64(end))
                for i in start..<end { bitmap[i] = true }
            }
            var expected: [Range<UInt64>] = []
            var i = 0
            while i < 512 {
                if bitmap[i] {
                    let s = i
                    while i < 512 && bitmap[i] { i += 1 }
                    expected.append(UInt64(s)..<UInt64(i))
                } else { i += 1 }
            }
            #expect(set.intervals == expected)
        }
    }
}
