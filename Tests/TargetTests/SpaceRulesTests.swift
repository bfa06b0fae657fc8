import DiskImportCore
import Foundation
import Target
import Testing

/// CDI v1.66's GetUsableSpace and GetRequiredSpace (and v1.62's, with `OverheadArithmetic.legacy`), to the byte. Every expected number here was computed the way Go
/// computes it, in float64 (`math.Ceil(float64(a) / (1 + o))` …; checked with Go 1.19 and with Python's float,
/// both IEEE binary64), not in decimal.
@Suite struct SpaceRulesTests {
    static let MiB: UInt64 = 1 << 20
    static let GiB: UInt64 = 1 << 30

    private func overhead(_ text: String) throws -> FilesystemOverhead { try FilesystemOverhead(parsing: text) }

    @Test("usable(avail, o) = roundDown(ceil(avail / (1 + o)), 1 MiB)", arguments: [
        (10 * GiB, "0.055", UInt64(10_177_478_656)),
        (10 * GiB, "0.06", UInt64(10_129_244_160)),
        (UInt64(1_536_000), "0.06", UInt64(1_048_576)),
        (128 * MiB, "0.055", UInt64(126_877_696)),
        (64 * MiB, "0.055", UInt64(62_914_560)),
        (16 * MiB, "0.055", UInt64(15_728_640)),
        (64 * MiB, "0", 64 * MiB),
        (UInt64(1_048_575), "0", UInt64(0)),
        (40 * GiB, "1", 20 * GiB),
    ])
    func usableIsCDIs(available: UInt64, o: String, usable: UInt64) throws {
        #expect(SpaceRules.usable(available: available, overhead: try overhead(o)) == usable)
    }

    @Test("required(size, o) = ceil(roundUp(size, 1 MiB) × (1 + o))", arguments: [
        (128 * MiB, "0.055", UInt64(141_599_704)),
        (128 * MiB, "0.1", UInt64(147_639_501)),
        (UInt64(1), "0.055", UInt64(1_106_248)),
        (10 * GiB, "0.06", UInt64(11_381_663_335)),
        (8 * MiB, "0.055", UInt64(8_849_982)),
        (UInt64(0), "0.055", UInt64(0)),
        (5 * MiB, "0", 5 * MiB),
    ])
    func requiredIsCDIs(size: UInt64, o: String, required: UInt64) throws {
        #expect(SpaceRules.required(size: size, overhead: try overhead(o)) == required)
    }

    /// CDI v1.62.0 and earlier: `(1 - o) × avail` and `size / (1 - o)`. These are the worked examples of the parity
    /// issue, which took them for v1.66's (v1.66.0's pkg/util/util.go divides and multiplies by `1 + o`).
    @Test("legacy usable(avail, o) = roundDown(ceil((1 - o) × avail), 1 MiB)", arguments: [
        (10 * GiB, "0.055", UInt64(10_146_021_376)),
        (10 * GiB, "0.06", UInt64(10_092_544_000)),
        (UInt64(1_536_000), "0.06", UInt64(1_048_576)),
        (128 * MiB, "0.055", UInt64(125_829_120)),
        (64 * MiB, "0", 64 * MiB),
        (40 * GiB, "1", UInt64(0)),
    ])
    func legacyUsableIsCDIv162s(available: UInt64, o: String, usable: UInt64) throws {
        #expect(SpaceRules.usable(available: available, overhead: try overhead(o).using(.legacy)) == usable)
    }

    @Test("legacy required(size, o) = ceil(roundUp(size, 1 MiB) / (1 - o))", arguments: [
        (128 * MiB, "0.055", UInt64(142_029_342)),
        (128 * MiB, "0.1", UInt64(149_130_809)),
        (UInt64(0), "0.055", UInt64(0)),
        (5 * MiB, "0", 5 * MiB),
    ])
    func legacyRequiredIsCDIv162s(size: UInt64, o: String, required: UInt64) throws {
        #expect(SpaceRules.required(size: size, overhead: try overhead(o).using(.legacy)) == required)
    }

    @Test func legacyRequiredWithAWholeOverheadIsNil() throws {
        // Go divides by zero to +Inf and its int64 conversion is undefined: no claim can hold it.
        #expect(SpaceRules.required(size: Self.MiB, overhead: try overhead("1").using(.legacy)) == nil)
    }

    @Test func theArithmeticIsNamedByCDIRelease() throws {
        #expect(try OverheadArithmetic(parsing: "v1.62") == .legacy)
        #expect(try OverheadArithmetic(parsing: "1.62") == .legacy)
        #expect(try OverheadArithmetic(parsing: "v1.63") == .current)
        #expect(try OverheadArithmetic(environment: [:]) == .current)
        #expect(try OverheadArithmetic(environment: [OverheadArithmetic.environmentVariable: ""]) == .current)
        #expect(try OverheadArithmetic(environment: [OverheadArithmetic.environmentVariable: "v1.62"]) == .legacy)
        let error = try #require(throws: DiskImportError.self) {
            try OverheadArithmetic(environment: [OverheadArithmetic.environmentVariable: "v1.66"])
        }
        #expect(error.kind == .usage)
        #expect(error.message.contains(OverheadArithmetic.environmentVariable) && error.message.contains("v1.62"))
        #expect(try overhead("0.055") == overhead("0.055").using(.current))
        #expect(try overhead("0.055") != overhead("0.055").using(.legacy))
    }

    @Test func requiredPastInt64IsNil() throws {
        #expect(SpaceRules.required(size: UInt64.max - 10, overhead: try overhead("0.055")) == nil)
        #expect(SpaceRules.required(size: UInt64(Int64.max) - (1 << 40), overhead: try overhead("0.5")) == nil)
    }

    /// Where float64 and exact decimal arithmetic part, CDI's answer is the float64 one. Each case proves the
    /// difference: the exact decimal result, computed here in integers, is another number.
    @Test("float64 boundaries", arguments: [
        // 26214400 × 1.1 is exactly 28835840, but the float64 nearest 1.1 is above it: Go's product rounds up a byte.
        (false, 25 * MiB, "0.1", UInt64(28_835_841)),
        (false, 45 * MiB, "0.1", UInt64(51_904_513)),
        (false, 475 * MiB, "0.07", UInt64(532_938_753)),
        // A volume of 6312597517237 bytes (5.7 TiB) at 0.273: the exact quotient is just above a MiB boundary less
        // one, the float64 one at or below it, so CDI's disk is a whole MiB smaller than decimal arithmetic's.
        (true, UInt64(6_312_597_517_237), "0.273", UInt64(4_958_834_393_088)),
        (true, UInt64(677_274_231_546_838), "0.055", UInt64(641_966_095_204_352)),
        (true, UInt64(592_444_419_735_551), "0.06", UInt64(558_909_828_890_624)),
    ])
    func floatBoundariesFollowGo(isUsable: Bool, bytes: UInt64, o: String, expected: UInt64) throws {
        let fraction = try Self.decimal(o)
        if isUsable {
            #expect(SpaceRules.usable(available: bytes, overhead: try overhead(o)) == expected)
            // Exact: ceil(bytes × d / (d + n)), rounded down to a MiB.
            let (q, r) = (UInt128(bytes) * fraction.d).quotientAndRemainder(dividingBy: fraction.d + fraction.n)
            let exact = UInt64(q + (r == 0 ? 0 : 1)) / Self.MiB * Self.MiB
            #expect(exact == expected + Self.MiB)
        } else {
            #expect(SpaceRules.required(size: bytes, overhead: try overhead(o)) == expected)
            let aligned = UInt128((bytes + Self.MiB - 1) / Self.MiB * Self.MiB)
            let (q, r) = (aligned * (fraction.d + fraction.n)).quotientAndRemainder(dividingBy: fraction.d)
            #expect(UInt64(q + (r == 0 ? 0 : 1)) == expected - 1)
        }
    }

    /// "0.273" as n / d.
    private static func decimal(_ text: String) throws -> (n: UInt128, d: UInt128) {
        let digits = try #require(text.split(separator: ".").last)
        return (try #require(UInt128(String(digits))), UInt128(pow(10, Double(digits.count))))
    }

    /// Every size within ±1024 bytes of 1 MiB, 40 MiB, 1 GiB, 40 GiB and 40 TiB, and random sizes up to 2⁵⁰, at CDI's
    /// usual overheads and random three-decimal ones: the same as an independent float64 implementation (Python's
    /// float, IEEE binary64 like Go's; python3 is installed by scripts/install-deps).
    @Test func matchesAnIndependentFloat64Implementation() throws {
        var generator = SystemRandomNumberGenerator()
        var cases: [(UInt64, String)] = []
        for o in ["0", "0.055", "0.06", "0.1", "0.333", "1"] {
            for center in [Self.MiB, 40 * Self.MiB, Self.GiB, 40 * Self.GiB, 40 << 40] {
                for bytes in stride(from: center - 1024, through: center + 1024, by: 3) { cases.append((bytes, o)) }
            }
        }
        for _ in 0..<20_000 {
            let o = "0.\(String(format: "%03d", Int.random(in: 0...999, using: &generator)))"
            cases.append((UInt64.random(in: 0...(1 << UInt64.random(in: 20...50, using: &generator)), using: &generator), o))
        }
        let directory = try ScratchDirectory()
        let input = directory.file("cases.txt")
        try cases.map { "\($0.0) \($0.1)" }.joined(separator: "\n").write(toFile: input, atomically: false, encoding: .utf8)
        let output = try sh("python3", "-c", """
            import math, sys
            M = 1 << 20
            for line in open(sys.argv[1]):
                a, o = line.split()
                a, o = int(a), float(o)
                usable = int(math.ceil(float(a) / (1 + o))) // M * M
                aligned = int(math.ceil(float(a) / float(M))) * M
                legacyUsable = int(math.ceil((1 - o) * float(a))) // M * M
                legacyRequired = int(math.ceil(float(aligned) / (1 - o))) if o < 1 else 0
                print(usable, int(math.ceil(float(aligned) * (1 + o))), legacyUsable, legacyRequired)
            """, input)
        let lines = output.split(separator: "\n")
        try #require(lines.count == cases.count)
        var mismatches = 0
        for ((bytes, o), line) in zip(cases, lines) {
            let oracle = line.split(separator: " ").compactMap { UInt64($0) }
            let usable = SpaceRules.usable(available: bytes, overhead: try overhead(o))
            let required = SpaceRules.required(size: bytes, overhead: try overhead(o))
            let legacyUsable = SpaceRules.usable(available: bytes, overhead: try overhead(o).using(.legacy))
            let legacyRequired = SpaceRules.required(size: bytes, overhead: try overhead(o).using(.legacy))
            if oracle != [usable, required ?? 0, legacyUsable, legacyRequired ?? 0] {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("\(bytes) at \(o): \(usable) \(String(describing: required)) \(legacyUsable) \(String(describing: legacyRequired)); float64 says \(line)")
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test func aPlainOverheadTextMeansWhatGoParseFloatReadsFromIt() throws {
        // Bit patterns printed by Go 1.19's strconv.ParseFloat(s, 64).
        let cases: [(String, UInt64)] = [
            ("0.055", 0x3fac_28f5_c28f_5c29), ("5.5e-2", 0x3fac_28f5_c28f_5c29), (".06", 0x3fae_b851_eb85_1eb8),
            ("+0.06", 0x3fae_b851_eb85_1eb8), ("0.0_6", 0x3fae_b851_eb85_1eb8), ("0x1p-4", 0x3fb0_0000_0000_0000),
            ("0X1P-4", 0x3fb0_0000_0000_0000), ("0x_1p-4", 0x3fb0_0000_0000_0000), ("0x.8p0", 0x3fe0_0000_0000_0000),
            ("1_0e-2", 0x3fb9_9999_9999_999a), ("1", 0x3ff0_0000_0000_0000), ("0", 0),
        ]
        for (text, bits) in cases {
            #expect(try overhead(text).value.bitPattern == bits, "\(text)")
            #expect(GoParseFloat.parse(text)?.bitPattern == bits, "\(text)")
        }
        #expect(GoParseFloat.parse("inf") == .infinity && GoParseFloat.parse("-Infinity") == -.infinity)
        #expect(GoParseFloat.parse("NaN")?.isNaN == true && GoParseFloat.parse("1e400") == .infinity)
        #expect(GoParseFloat.parse("6.") == 6)
        // Go's syntax errors.
        for text in ["", " 0.06", "0.06 ", "+nan", "1__0", "_1", "0_.06", "0._06", "0x1", "1e", "infin", "0,05", "0.0.1", "1e+_2", "0x1p", "abc"] {
            #expect(GoParseFloat.parse(text) == nil, "\(text)")
        }
    }

    @Test(arguments: ["", "-0.1", "1.5", "2", "0.0.1", "abc", "0,05", ".", "1.01", " 0.06", "nan", "inf", "0x1", "1e400"])
    func invalidOverheadIsAUsageError(text: String) {
        #expect(throws: DiskImportError.self) { try FilesystemOverhead(parsing: text) }
        do { _ = try FilesystemOverhead(parsing: text) } catch let error as DiskImportError {
            #expect(error.kind == .usage)
            #expect(error.message.contains("filesystem overhead"))
        } catch { Issue.record("unexpected error \(error)") }
    }

    /// CDIConfig's and HCO's `Percent`: `^(0(?:\.\d{1,3})?|1)$`.
    @Test func aPercentIsCDIsPattern() throws {
        for text in ["0", "1", "0.055", "0.06", "0.5", "0.999", "0.0"] {
            #expect(FilesystemOverhead(percent: text)?.value == GoParseFloat.parse(text), "\(text)")
        }
        for text in ["", "0.", "0.0555", ".5", "1.0", "0,5", "00.5", "0.5 ", "-0", "0x1p-4", "5.5e-2", "2", "0.a"] {
            #expect(FilesystemOverhead(percent: text) == nil, "\(text)")
        }
    }

    @Test func cdisRulesTakeTheSmallerOfFreeAndRequested() throws {
        let o = try overhead("0.055")
        let plan = SpacePlan(free: 100 * Self.GiB, requested: 10 * Self.GiB, overhead: o)
        #expect(plan.available == 10 * Self.GiB)
        #expect(plan.usable == 10_177_478_656)
        // The raw file grows to min(usable, requested), never shrinks below the guest size.
        #expect(plan.finalLength(guestSize: Self.GiB) == 10_177_478_656)
        #expect(plan.finalLength(guestSize: 10_177_478_656 + 4096) == 10_177_478_656 + 4096)
        // A raw stream of unknown size may grow to the available space: CDI refuses only more than that.
        #expect(plan.capacity(virtualSize: nil) == 10 * Self.GiB)
        #expect(plan.capacity(virtualSize: 5) == 5)
        let unrequested = SpacePlan(free: 100 * Self.GiB, requested: nil, overhead: o)
        #expect(unrequested.finalLength(guestSize: 12345) == 12345)
        let small = SpacePlan(free: 100 * Self.GiB, requested: 20 * Self.GiB, overhead: try overhead("0"))
        #expect(small.finalLength(guestSize: Self.GiB) == 20 * Self.GiB)
    }

    /// CDI's importer validates the virtual size against min(free, requested), not the usable size
    /// (pkg/importer/data-processor.go `validate`), and refuses in pkg/image/qemu.go's words.
    @Test func cdisRulesRefuseAVirtualSizeAboveTheAvailableSpaceInCDIsWords() throws {
        let plan = SpacePlan(free: 10 * Self.GiB, requested: nil, overhead: try overhead("0.055"))
        try plan.check(virtualSize: 10 * Self.GiB)
        let error = try #require(throws: DiskImportError.self) { try plan.check(virtualSize: 10 * Self.GiB + 1) }
        #expect(error.kind == .space)
        #expect(error.message == "virtual image size 10737418241 is larger than the reported available storage 10737418240. A larger PVC is required")
        let requested = SpacePlan(free: 10 * Self.GiB, requested: 4 * Self.GiB, overhead: try overhead("0"))
        #expect(throws: DiskImportError.self) { try requested.check(virtualSize: 4 * Self.GiB + 512) }
    }

    /// qemu-img's rules: no overhead, no refusal by virtual size, `--size` is the length the disk grows to.
    @Test func qemuImgsRulesRefuseNoVirtualSizeAndGrowToTheRequestedSize() throws {
        let plan = SpacePlan(free: 40 * Self.MiB, requested: nil, overhead: nil)
        try plan.check(virtualSize: 1 << 40)
        #expect(plan.usable == nil)
        #expect(plan.finalLength(guestSize: 64 * Self.MiB) == 64 * Self.MiB)
        let sized = SpacePlan(free: 40 * Self.MiB, requested: 64 * Self.MiB, overhead: nil)
        try sized.check(virtualSize: 64 * Self.MiB)
        #expect(sized.finalLength(guestSize: 3 * Self.MiB) == 64 * Self.MiB)
        #expect(sized.finalLength(guestSize: 128 * Self.MiB) == 128 * Self.MiB)
        // A stream of unknown length: bounded by the requested size, else by the filesystem's size.
        #expect(sized.capacity(virtualSize: nil) == 64 * Self.MiB)
        #expect(plan.capacity(virtualSize: nil) == 40 * Self.MiB)
        #expect(SpacePlan(free: 40 * Self.MiB, requested: nil, overhead: nil, filesystemSize: Self.GiB).capacity(virtualSize: nil) == Self.GiB)
        // Known data that cannot fit is refused, naming both numbers.
        try plan.check(dataBytes: 40 * Self.MiB, target: "/mnt/disk.img")
        let error = try #require(throws: DiskImportError.self) { try plan.check(dataBytes: 60 * Self.MiB, target: "/mnt/disk.img") }
        #expect(error.kind == .space)
        #expect(error.message.contains("62914560") && error.message.contains("41943040") && error.message.contains("/mnt/disk.img"))
    }
}
