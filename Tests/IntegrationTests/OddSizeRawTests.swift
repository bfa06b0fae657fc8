import Foundation
import Testing

/// A raw disk whose length is not a multiple of 512 is padded to the next sector on every path, as `qemu-img convert`
/// pads it, and `info` reports the padded size wherever it reports one (as `qemu-img info` does for the plain file).
@Suite struct OddSizeRawTests {
    static let length = 12122
    static let padded = 12288

    /// `odd.raw` of `length` random bytes and qemu-img's conversion of it, in `dir`.
    static func makeOddRaw(in dir: TemporaryDirectory) throws -> (raw: String, oracle: String) {
        let raw = dir.file("odd.raw")
        try Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 1) }).write(to: URL(fileURLWithPath: raw))
        let oracle = dir.file("oracle.raw")
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", "raw", raw, oracle)
        return (raw, oracle)
    }

    /// Shell commands making each wrapping of $RAW into $OUT, and the virtual size `info` reports for it (nil: unknown
    /// until decompressed).
    static let wrappings: [(String, String, Int?)] = [
        ("plain", "cp $RAW $OUT", padded),
        ("gzip", "gzip -c $RAW > $OUT", nil),
        ("xz, blocks with sizes", "xz -T2 -c $RAW > $OUT", padded),
        ("xz, one block without sizes", "xz -T1 -c $RAW > $OUT", padded),
        ("zstd", "zstd -q -c $RAW > $OUT", nil),
        ("tar", "mkdir -p $DIR/t/disk && cp $RAW $DIR/t/disk/disk.raw && tar -C $DIR/t -cf $OUT disk/disk.raw", padded),
        // The tar header says the entry's size, under the gzip too.
        ("tar.gz", "mkdir -p $DIR/t/disk && cp $RAW $DIR/t/disk/disk.raw && tar -C $DIR/t -czf $OUT disk/disk.raw", padded),
    ]

    static func wrap(_ command: String, _ raw: String, in dir: TemporaryDirectory) throws -> String {
        let out = dir.file("wrapped")
        try Harness.tool("bash", "-c", command.replacingOccurrences(of: "$RAW", with: raw)
            .replacingOccurrences(of: "$OUT", with: out).replacingOccurrences(of: "$DIR", with: dir.path))
        return out
    }

    static func infoSize(_ source: String, _ arguments: [String] = []) throws -> (Harness.Result, Int?) {
        let result = try Harness.run(Harness.binary, ["info", source, "--output", "json"] + arguments)
        let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return (result, json?["virtual-size"] as? Int)
    }

    @Test func qemuImgPadsTheLastSector() throws {
        let dir = try TemporaryDirectory()
        let (raw, oracle) = try Self.makeOddRaw(in: dir)
        #expect(try FileManager.default.attributesOfItem(atPath: oracle)[.size] as? Int == Self.padded)
        let qemu = try Harness.tool("qemu-img", "info", "--output", "json", "-f", "raw", raw).stdout
        #expect(qemu.contains("\"virtual-size\": \(Self.padded)"), "\(qemu)")
        let (ours, size) = try Self.infoSize(raw)
        #expect(ours.status == 0, "\(ours.stderr)")
        #expect(size == Self.padded)
    }

    @Test(arguments: 0..<wrappings.count, [[:], ["DISKIMPORT_XZ_PARALLEL": "0"]])
    func everyWrappingConvertsPaddedAndInfoAgrees(_ index: Int, _ environment: [String: String]) throws {
        let (name, command, infoSize) = Self.wrappings[index]
        let dir = try TemporaryDirectory()
        let (raw, oracle) = try Self.makeOddRaw(in: dir)
        let source = try Self.wrap(command, raw, in: dir)
        let out = dir.file("out.img")
        let result = try Harness.run(Harness.binary, ["convert", source, out, "--json"],
                                     environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
        #expect(result.status == 0, "\(name): \(result.stderr)")
        #expect(try Files.identical(oracle, out), "\(name)")
        #expect(result.stdout.contains("\"virtual-size\":\(Self.padded),"), "\(name): \(result.stdout)")
        let (info, size) = try Self.infoSize(source)
        #expect(info.status == 0, "\(name): \(info.stderr)")
        #expect(size == infoSize, "\(name): \(info.stdout)")
    }

    @Test func aChecksumOverAnOddRawStillPads() throws {
        let dir = try TemporaryDirectory()
        let (raw, oracle) = try Self.makeOddRaw(in: dir)
        let digest = try Harness.tool("sha256sum", raw).stdout.prefix(while: { $0 != " " })
        let result = try Harness.diskimport("convert", raw, dir.file("out.img"), "--checksum", "sha256:\(digest)")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(oracle, dir.file("out.img")))
    }
}

@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct OddSizeRawNetworkTests {
    @Test(arguments: ["plain", "gzip", "xz, blocks with sizes"], [[], ["--http-random-access"]])
    func overHTTPSItConvertsPaddedAndInfoAgrees(_ name: String, _ mode: [String]) throws {
        let http = try HTTPFixture()
        let (raw, oracle) = try OddSizeRawTests.makeOddRaw(in: http.directory)
        let (_, command, infoSize) = OddSizeRawTests.wrappings.first { $0.0 == name }!
        let served = try http.served(try OddSizeRawTests.wrap(command, raw, in: http.directory), as: "odd")
        let result = try http.convert(served.url, try http.trust + mode)
        #expect(result.status == 0, "\(name): \(result.stderr)")
        #expect(try Files.identical(oracle, http.directory.file("out.img")), "\(name)")
        // info over HTTP: the plain length from Content-Length, raw inside xz from its index by ranged reads.
        let (info, size) = try OddSizeRawTests.infoSize(served.url, try http.trust)
        #expect(info.status == 0, "\(name): \(info.stderr)")
        #expect(size == infoSize, "\(name): \(info.stdout)")
    }

    @Test func fromARegistryLayerItConvertsPadded() throws {
        let registry = try RegistryFixture()
        let (raw, oracle) = try OddSizeRawTests.makeOddRaw(in: registry.directory)
        let tar = try registry.tar("odd", [("disk/", nil), ("disk/disk.raw", try Data(contentsOf: URL(fileURLWithPath: raw)))])
        let image = try registry.push("odd-raw", layers: [(tar, "gzip")])
        let result = try registry.convert(image.reference, try registry.trust + registry.login)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(oracle, registry.directory.file("out.img")))
        let info = try Harness.run(Harness.binary, ["info", image.reference, "--output", "json"] + (try registry.trust + registry.login))
        #expect(info.stdout.contains("\"virtual-size\":\(OddSizeRawTests.padded),"), "\(info.stdout) \(info.stderr)")
    }
}
