import DiskImportCore
import Target
import Testing

@Suite struct SpaceRulesTests {
    static let MiB: UInt64 = 1 << 20
    static let GiB: UInt64 = 1 << 30

    private func overhead(_ text: String) throws -> FilesystemOverhead { try FilesystemOverhead(parsing: text) }

    @Test("worked examples of DESIGN.md section 5", arguments: [
        (10 * GiB, "0.055", UInt64(10_177_478_656)),
        (10 * GiB, "0.06", UInt64(10_129_244_160)),
        (UInt64(1_536_000), "0.06", UInt64(1_048_576)),
        (64 * MiB, "0.055", UInt64(62_914_560)),
        (64 * MiB, "0", 64 * MiB),
        (UInt64(1_048_575), "0", UInt64(0)),
    ])
    func usableMatchesTheWorkedExamples(available: UInt64, o: String, usable: UInt64) throws {
        #expect(SpaceRules.usable(available: available, overhead: try overhead(o)) == usable)
    }

    @Test func requiredRoundsUpToAMebibyteThenAddsTheOverhead() throws {
        // roundUp(1, 1 MiB) = 1 MiB; × 1.055 = 1106247.68 → 1106248.
        #expect(SpaceRules.required(size: 1, overhead: try overhead("0.055")) == 1_106_248)
        #expect(SpaceRules.required(size: 10 * Self.GiB, overhead: try overhead("0.06")) == 11_381_663_335)
        #expect(SpaceRules.required(size: 0, overhead: try overhead("0.055")) == 0)
        #expect(SpaceRules.required(size: 5 * Self.MiB, overhead: try overhead("0")) == 5 * Self.MiB)
        #expect(SpaceRules.required(size: UInt64.max - 10, overhead: try overhead("0.055")) == nil)
    }

    @Test func overheadIsParsedExactly() throws {
        let o = try overhead("0.055")
        #expect(o.numerator == 55 && o.denominator == 1000)
        #expect(try overhead("1").numerator == 1 && overhead("1").denominator == 1)
        #expect(try overhead(".5").numerator == 5)
        #expect(try overhead("0.000000000000000001").denominator == 1_000_000_000_000_000_000)
        #expect(try overhead(" 0.06 ").description == "0.06")
    }

    @Test(arguments: ["", "-0.1", "1.5", "2", "0.0.1", "abc", "0,05", "1e-3", ".", "0.0000000000000000001", "1.01"])
    func invalidOverheadIsAUsageError(text: String) {
        #expect(throws: DiskImportError.self) { try FilesystemOverhead(parsing: text) }
        do { _ = try FilesystemOverhead(parsing: text) } catch let error as DiskImportError {
            #expect(error.kind == .usage)
            #expect(error.message.contains("filesystem overhead"))
        } catch { Issue.record("unexpected error \(error)") }
    }

    /// The defining inequalities, checked in 128-bit arithmetic for every size within ±1024 bytes of 1 MiB, 40 MiB,
    /// 1 GiB and 40 GiB, at several overheads.
    @Test(arguments: ["0", "0.055", "0.06", "0.1", "0.333", "1"])
    func usableAndRequiredHoldTheirDefiningInequalities(o: String) throws {
        let overhead = try overhead(o)
        let d = UInt128(overhead.denominator), n = UInt128(overhead.numerator)
        let M = UInt128(Self.MiB)
        for center in [Self.MiB, 40 * Self.MiB, Self.GiB, 40 * Self.GiB] {
            var previous: UInt64? = nil
            for available in (center - 1024)...(center + 1024) {
                let usable = SpaceRules.usable(available: available, overhead: overhead)
                let u = UInt128(usable), a = UInt128(available)
                #expect(usable % Self.MiB == 0)
                // usable ≤ ceil(a / (1 + o)) < a / (1 + o) + 1, so usable × (1 + o) < a + 1 + o.
                #expect(u * (d + n) < a * d + d + n, "usable \(usable) of \(available) at \(o) is too large")
                // The next MiB would not fit: (usable + 1 MiB) × (1 + o) > a.
                #expect((u + M) * (d + n) > a * d, "usable \(usable) of \(available) at \(o) is not the largest")
                if let previous { #expect(usable >= previous, "usable is not monotone at \(available)") }
                previous = usable
                // A filesystem of `available` bytes is (nearly) enough for its usable size: within 2 bytes of rounding
                // above, and within (1 + o) MiB below.
                let required = try #require(SpaceRules.required(size: usable, overhead: overhead))
                #expect(required <= available + 2)
                #expect(UInt128(required) + (d + n) * M / d >= a)
                // And the round trip: a filesystem of required(s) bytes holds s.
                let needed = try #require(SpaceRules.required(size: available, overhead: overhead))
                #expect(SpaceRules.usable(available: needed, overhead: overhead) >= available)
            }
        }
    }

    @Test func spacePlanTakesTheSmallerOfFreeAndRequested() throws {
        let o = try overhead("0.055")
        let plan = SpacePlan(free: 100 * Self.GiB, requested: 10 * Self.GiB, overhead: o)
        #expect(plan.available == 10 * Self.GiB)
        #expect(plan.usable == 10_177_478_656)
        // The raw file grows to min(usable, requested), never shrinks below the guest size.
        #expect(plan.finalLength(guestSize: Self.GiB) == 10_177_478_656)
        #expect(plan.finalLength(guestSize: 10_177_478_656 + 4096) == 10_177_478_656 + 4096)
        let unrequested = SpacePlan(free: 100 * Self.GiB, requested: nil, overhead: o)
        #expect(unrequested.finalLength(guestSize: 12345) == 12345)
        #expect(unrequested.capacity(virtualSize: nil) == unrequested.usable)
        #expect(unrequested.capacity(virtualSize: 5) == 5)
        let small = SpacePlan(free: 100 * Self.GiB, requested: 20 * Self.GiB, overhead: try overhead("0"))
        #expect(small.finalLength(guestSize: Self.GiB) == 20 * Self.GiB)
    }

    @Test func aVirtualSizeAboveTheUsableSpaceIsRefusedWithBothNumbers() throws {
        let plan = SpacePlan(free: 10 * Self.GiB, requested: nil, overhead: try overhead("0.055"))
        try plan.check(virtualSize: 10_177_478_656, target: "/data/disk.img")
        let error = try #require(throws: DiskImportError.self) {
            try plan.check(virtualSize: 10 * Self.GiB, target: "/data/disk.img")
        }
        #expect(error.kind == .space)
        #expect(error.message.contains("10737418240"))
        #expect(error.message.contains("10177478656"))
        #expect(error.message.contains("/data/disk.img"))
    }
}
