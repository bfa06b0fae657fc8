import Foundation
import Testing

/// vhdx images converted locally (random access) and inside gzip and xz (front to back), byte for byte against
/// qemu-img 7.2 (libvhdi where qemu-img refuses the variant), and the malformed corpus.
@Suite struct VhdxConvertTests {
    func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(arguments: VhdxMatrix.valid)
    func convertsExactlyLikeQemuImg(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try VhdxMatrix.make(name, in: dir)
        let expected = dir.file("expected.raw"), actual = dir.file("diskimport.raw")
        try VhdxMatrix.expected(name, image: image, output: expected)
        let result = try Harness.diskimport("convert", image, actual, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(expected, actual), "\(name): output differs from the oracle")
        #expect(try object(result.stdout)["layers"] as? [String] == ["vhdx"])
    }

    /// (the wrapper's extension, the shell command that makes $IMG.ext).
    static let wrappers = [("gz", "gzip -k $IMG"), ("xz", "xz -T2 --block-size=1MiB -k $IMG")]

    @Test(arguments: VhdxMatrix.streamable, 0..<wrappers.count)
    func streamsInsideAWrapperWithoutScratch(_ name: String, wrapper: Int) throws {
        let dir = try TemporaryDirectory()
        let image = try VhdxMatrix.make(name, in: dir)
        let (ext, command) = Self.wrappers[wrapper]
        try VhdxMatrix.expected(name, image: image, output: dir.file("expected.raw"))
        try Harness.tool("sh", "-c", "IMG=\(image); " + command)
        let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert", image + "." + ext, dir.file("out.raw"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("expected.raw"), dir.file("out.raw")), "\(name) in \(ext)")
        let json = try object(result.stdout)
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == [ext == "gz" ? "gzip" : "xz", "vhdx"])
        #expect(maxRSSKiB < 128 << 10, "\(name) in \(ext): peak RSS \(maxRSSKiB) KiB")
    }

    @Test func blocksBeforeTheirBATNeedScratchInAStream() throws {
        let dir = try TemporaryDirectory()
        let image = try VhdxMatrix.make("bat-after-data", in: dir)
        try Harness.tool("gzip", "-k", image)
        let target = dir.file("out.raw")
        let refused = try Harness.diskimport("convert", image + ".gz", target)
        try Harness.expectFailure(refused, containing: "scratch space required", leavingNothingNamed: "out.raw", in: dir)

        let scratch = dir.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        let result = try Harness.diskimport("convert", image + ".gz", target, "--scratch", scratch, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try object(result.stdout)["scratch-bytes"] as? Int ?? 0 > 0)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        #expect(try Files.identical(dir.file("qemu.raw"), target))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "the scratch file was left behind")
    }

    /// Past 4096 blocks of 1 MiB the BAT interleaves a sector bitmap entry (the chunk ratio), locally and streamed.
    @Test(arguments: ["", "gz"])
    func blocksPastTheFirstChunkComeFromTheRightEntry(_ wrapper: String) throws {
        let dir = try TemporaryDirectory()
        let image = try VhdxMatrix.make("chunk-boundary", in: dir)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        if !wrapper.isEmpty { try Harness.tool("gzip", "-k", image) }
        let result = try Harness.diskimport("convert", wrapper.isEmpty ? image : image + ".gz", dir.file("out.raw"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")))
    }

    @Test(arguments: VhdxMatrix.malformed, ["", "gz"])
    func refusesMalformedImageWithOneClearLine(_ malformed: VhdxMatrix.Malformed, wrapper: String) throws {
        let dir = try TemporaryDirectory()
        var image = try VhdxMatrix.make(malformed.name, in: dir)
        if !wrapper.isEmpty {
            try Harness.tool("gzip", image)
            image += ".gz"
        }
        let outputDir = dir.file("out")
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: false)
        let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert", image, outputDir + "/disk.img"])
        #expect(result.status == 1, "\(malformed.name) \(wrapper): exit \(result.status): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(malformed.name) \(wrapper): \(result.stderr)")
        #expect(result.stderr.contains(malformed.expected), "\(malformed.name) \(wrapper): \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputDir).isEmpty, "\(malformed.name): a target file was left behind")
        #expect(maxRSSKiB < 128 << 10, "\(malformed.name): peak RSS \(maxRSSKiB) KiB")
    }

    /// qemu-img refuses the same image read-only, and `qemu-img check -r all` replays the log, as the message says.
    @Test func aLogToReplayIsRefusedLikeQemuImgDoes() throws {
        let dir = try TemporaryDirectory()
        let image = try VhdxMatrix.make("log-needs-replay", in: dir)
        let qemu = try Harness.run("qemu-img", ["convert", "-O", "raw", image, dir.file("qemu.raw")])
        #expect(qemu.status != 0 && qemu.stderr.contains("contains a log that needs to be replayed"), "\(qemu.stderr)")
        let ours = try Harness.diskimport("convert", image, dir.file("out.raw"))
        try Harness.expectFailure(ours, containing: "qemu-img check -r all", leavingNothingNamed: "out.raw", in: dir)
        try Harness.tool("qemu-img", "check", "-q", "-r", "all", image)
        let replayed = try Harness.diskimport("convert", image, dir.file("out.raw"))
        #expect(replayed.status == 0, "\(replayed.stderr)")
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")))
    }

    @Test func matrixListsEveryCaseTheGeneratorMakes() throws {
        let listed = try Harness.tool(VhdxMatrix.generator, "--list").stdout.split(separator: "\n").map(String.init)
        let expected = VhdxMatrix.valid.map { "valid \($0)" } + VhdxMatrix.large.map { "large \($0)" }
            + VhdxMatrix.malformed.map { "malformed \($0.name)" }
        #expect(listed == expected)
    }

    @Test(arguments: ["dynamic-1m", "dynamic-32m", "fixed", "unaligned-size", "virtual-size-unaligned"], ["", "gz"])
    func infoMatchesQemuImgInfo(_ name: String, wrapper: String) throws {
        let dir = try TemporaryDirectory()
        let image = try VhdxMatrix.make(name, in: dir)
        let qemu = try object(try Harness.tool("qemu-img", "info", "--output", "json", image).stdout)
        if !wrapper.isEmpty { try Harness.tool("gzip", "-k", image) }
        let result = try Harness.diskimport("info", wrapper.isEmpty ? image : image + ".gz", "--output", "json")
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try object(result.stdout)
        for key in ["virtual-size", "cluster-size", "format", "dirty-flag"] {
            let value = try #require(qemu[key], "qemu-img has no \(key)")
            let mine = try #require(ours[key], "\(name): no \(key)")
            #expect(NSDictionary(dictionary: [key: mine]) == NSDictionary(dictionary: [key: value]), "\(name): \(key)")
        }
        if wrapper.isEmpty {
            #expect(ours["actual-size"] as? Int == qemu["actual-size"] as? Int)
            #expect(try Harness.diskimport("info", image).stdout == (try Harness.tool("qemu-img", "info", image).stdout))
        }
    }
}
