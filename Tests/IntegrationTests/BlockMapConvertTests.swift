import Foundation
import Testing

/// vdi and vhd (vpc) images (scripts/make-vdi-vpc-matrix) converted locally, inside wrappers and over HTTPS,
/// against `qemu-img convert -O raw`; the malformed corpora refused with one line.
@Suite struct BlockMapConvertTests {
    static func summary(_ stdout: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test(arguments: BlockMapMatrix.valid)
    func convertsExactlyLikeQemuImg(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try BlockMapMatrix.make(name, in: dir)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        let result = try Harness.diskimport("convert", image, dir.file("out.raw"), "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")), "\(name): output differs from qemu-img convert -O raw")
        #expect(try Self.summary(result.stdout)["layers"] as? [String] == [BlockMapMatrix.format(of: name)])
    }

    /// gzip, and xz (decoded in order: these formats have no block-parallel xz reader).
    @Test(arguments: BlockMapMatrix.valid, ["gz", "xz"])
    func streamsInsideAWrapperWithoutScratch(_ name: String, wrapper: String) throws {
        let dir = try TemporaryDirectory()
        let image = try BlockMapMatrix.make(name, in: dir)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        try Harness.tool(wrapper == "gz" ? "gzip" : "xz", "-k", image)
        let result = try Harness.diskimport("convert", image + "." + wrapper, dir.file("out.raw"), "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")), "\(name): output differs from qemu-img convert -O raw")
        let json = try Self.summary(result.stdout)
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == [wrapper == "gz" ? "gzip" : "xz", BlockMapMatrix.format(of: name)])
    }

    @Test(arguments: BlockMapMatrix.malformed)
    func refusesMalformedImageWithOneClearLine(_ malformed: BlockMapMatrix.Malformed) throws {
        let dir = try TemporaryDirectory()
        let image = try BlockMapMatrix.make(malformed.name, in: dir)
        try Harness.tool("gzip", "-k", image)
        // With random access the message is exact; front to back it may name the truncation the stream meets.
        for (source, expected) in [(image, malformed.expected), (image + ".gz", "")] {
            let outputDir = dir.file("out")
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
            let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert", source, outputDir + "/disk.img"])
            #expect(result.status == 1, "\(source): exit \(result.status): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(source): \(result.stderr)")
            #expect(expected.isEmpty || result.stderr.contains(expected), "\(source): \(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: outputDir).isEmpty, "\(source): a target file was left behind")
            #expect(maxRSSKiB < 128 << 10, "\(source): peak RSS \(maxRSSKiB) KiB")
        }
    }

    @Test func matrixListsEveryCaseTheGeneratorMakes() throws {
        let listed = try Harness.tool(BlockMapMatrix.generator, "--list").stdout.split(separator: "\n").map(String.init)
        let expected = (BlockMapMatrix.valid + BlockMapMatrix.validDifferencing).map { "valid \($0)" }
            + BlockMapMatrix.malformed.map { "malformed \($0.name)" } + BlockMapMatrix.fixedVpc.map { "fixed \($0)" }
            + BlockMapMatrix.malformedFixedVpc.map { "fixed-malformed \($0.name)" }
        #expect(listed == expected)
    }

    /// The parent chain followed for a local file; refused with --no-backing and inside a wrapper.
    @Test(arguments: BlockMapMatrix.validDifferencing)
    func differencingImageReadsThroughItsParents(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try BlockMapMatrix.make(name, in: dir)
        let result = try Harness.diskimport("convert", image, dir.file("out.raw"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("expected.raw"), dir.file("out.raw")), "\(name): output differs from the chain's guest bytes")
        let refused = try Harness.diskimport("convert", "--no-backing", image, dir.file("refused.raw"))
        try Harness.expectFailure(refused, containing: "has a parent", leavingNothingNamed: "refused", in: dir)
        try Harness.tool("gzip", "-k", image)
        let wrapped = try Harness.diskimport("convert", image + ".gz", dir.file("wrapped.raw"))
        try Harness.expectFailure(wrapped, containing: "is only followed for plain local images", leavingNothingNamed: "wrapped", in: dir)
    }

    @Test(arguments: ["vdi-dynamic", "vdi-static", "vdi-odd-size", "vpc-dynamic", "vpc-force-size", "vpc-creator-win",
                      "vpc-creator-vpc"])
    func infoMatchesQemuImgInfo(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try BlockMapMatrix.make(name, in: dir)
        let ours = try Self.summary(try Harness.diskimport("info", image, "--output", "json").stdout)
        let qemu = try Self.summary(try Harness.tool("qemu-img", "info", "--output", "json", image).stdout)
        for (key, value) in qemu {
            let mine = try #require(ours[key], "\(name): no \(key)")
            #expect(NSDictionary(dictionary: [key: mine]) == NSDictionary(dictionary: [key: value]), "\(name): \(key)")
        }
        #expect(try Harness.diskimport("info", image).stdout == (try Harness.tool("qemu-img", "info", image).stdout))
        try Harness.tool("xz", "-k", image)
        let wrapped = try Self.summary(try Harness.diskimport("info", image + ".xz", "--output", "json").stdout)
        #expect(wrapped["layers"] as? [String] == ["xz", BlockMapMatrix.format(of: name)])
        #expect(wrapped["virtual-size"] as? Int == qemu["virtual-size"] as? Int)
        #expect(wrapped["cluster-size"] as? Int == qemu["cluster-size"] as? Int)
    }
}

/// vdi and vhd over HTTPS from the fixtures' nginx: front to back by default, by ranged reads with
/// --http-random-access.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct BlockMapHTTPTests {
    @Test(arguments: ["vdi-dynamic", "vdi-static-writes", "vpc-dynamic", "vpc-creator-win"], [false, true])
    func httpsIsByteIdentical(_ name: String, ranged: Bool) throws {
        let http = try HTTPFixture()
        let image = try BlockMapMatrix.make(name, in: http.directory)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, http.directory.file("qemu.raw"))
        let served = try http.served(image, as: "disk.img")
        defer { try? FileManager.default.removeItem(atPath: served.path) }
        let result = try http.convert(served.url, try http.trust + (ranged ? ["--http-random-access"] : []) + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(http.directory.file("qemu.raw"), http.directory.file("out.img")))
        let json = try BlockMapConvertTests.summary(result.stdout)
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == [BlockMapMatrix.format(of: name)])
    }
}
