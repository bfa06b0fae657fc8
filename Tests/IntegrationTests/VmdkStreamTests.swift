import Foundation
import Testing

/// vmdk inside a compression wrapper, read front to back: hosted sparse by the tables qemu-img writes before the
/// grains, streamOptimized by its grain markers; neither needs scratch space.
@Suite struct VmdkStreamTests {
    /// (the wrapper's extension, the shell command that makes $IMG.ext).
    static let wrappers = [("gz", "gzip -k $IMG"), ("xz", "xz -T2 --block-size=64KiB -k $IMG")]

    @Test(arguments: VmdkMatrix.streamable, 0..<wrappers.count)
    func sparseFileStreamsWithoutScratch(_ name: String, wrapper: Int) throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make(name, in: dir)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        let (ext, command) = Self.wrappers[wrapper]
        try Harness.tool("sh", "-c", "IMG=\(image); " + command)
        let result = try Harness.diskimport("convert", image + "." + ext, dir.file("out.raw"), "--json")
        #expect(result.status == 0, "\(name) in \(ext): \(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")), "\(name) in \(ext)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == [ext == "gz" ? "gzip" : "xz", "vmdk"])
    }

    /// A hosted sparse file whose grain directory follows its grains: refused without --scratch, spooled with it.
    @Test func tablesAfterTheGrainsNeedScratch() throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make("sparse-tables-after-grains", in: dir)
        try Harness.tool("gzip", "-k", image)
        let target = dir.file("out.raw")
        let refused = try Harness.diskimport("convert", image + ".gz", target)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("scratch space required"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: target))

        let scratch = dir.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        let result = try Harness.diskimport("convert", image + ".gz", target, "--scratch", scratch, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["scratch-bytes"] as? Int ?? 0 > 0)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        #expect(try Files.identical(dir.file("qemu.raw"), target))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "the scratch file was left behind")
    }

    @Test(arguments: VmdkMatrix.streamMalformed)
    func malformedImageInsideGzipIsAOneLineError(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make(name, in: dir)
        try Harness.tool("gzip", "-k", image)
        let outputDir = dir.file("out")
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: false)
        let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert", image + ".gz", outputDir + "/disk.img"])
        #expect(result.status == 1, "\(name): exit \(result.status): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(name): \(result.stderr)")
        #expect(result.stderr.contains("vmdk"), "\(name): \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputDir).isEmpty, "\(name): a target file was left behind")
        #expect(maxRSSKiB < 128 << 10, "\(name): peak RSS \(maxRSSKiB) KiB")
    }

    /// A descriptor's extent files and a delta's parent cannot be reached from a stream: CDI's words.
    @Test(arguments: [("monolithic-flat", "because it has extent file disk-flat.vmdk"), ("delta", "because it has backing file base.vmdk")])
    func extentsAndParentsAreRefusedInsideAWrapper(_ name: String, expected: String) throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make(name, in: dir)
        try Harness.tool("gzip", "-k", image)
        let result = try Harness.diskimport("convert", image + ".gz", dir.file("out.raw"))
        #expect(result.status == 1)
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.raw")))
    }

    @Test func infoReadsTheHeaderInsideTheWrapper() throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make("stream-optimized", in: dir)
        try Harness.tool("gzip", "-k", image)
        let result = try Harness.diskimport("info", image + ".gz", "--output", "json")
        #expect(result.status == 0, "\(result.stderr)")
        let info = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(info["layers"] as? [String] == ["gzip", "vmdk"])
        #expect(info["virtual-size"] as? Int == 4 << 20)
        #expect(info["cluster-size"] as? Int == 65536)
        let specific = try #require(info["format-specific"] as? [String: Any])
        let data = try #require(specific["data"] as? [String: Any])
        #expect(data["create-type"] as? String == "streamOptimized")
    }
}

/// vmdk over HTTPS from the fixtures' nginx: streamed front to back, and by ranged reads (--http-random-access).
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct VmdkHTTPTests {
    @Test(arguments: ["sparse", "sparse-zeroed-grain", "stream-optimized", "stream-vmware"], [[], ["--http-random-access"]])
    func sparseFileOverHTTPSMatchesQemuImg(_ name: String, mode: [String]) throws {
        let http = try HTTPFixture()
        let made = try TemporaryDirectory()
        let image = try VmdkMatrix.make(name, in: made)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, made.file("qemu.raw"))
        let served = try http.served(image, as: "disk.vmdk")
        defer { try? FileManager.default.removeItem(atPath: served.path) }
        let result = try http.convert(served.url, try http.trust + mode + ["--json"])
        #expect(result.status == 0, "\(name) \(mode): \(result.stderr)")
        #expect(try Files.identical(made.file("qemu.raw"), http.directory.file("out.img")), "\(name) \(mode)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["scratch-bytes"] as? Int == 0)
    }

    @Test func gzippedStreamOptimizedOverHTTPSMatchesQemuImg() throws {
        let http = try HTTPFixture()
        let made = try TemporaryDirectory()
        let image = try VmdkMatrix.make("stream-optimized", in: made)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, made.file("qemu.raw"))
        try Harness.tool("gzip", "-k", image)
        let served = try http.served(image + ".gz", as: "disk.vmdk.gz")
        defer { try? FileManager.default.removeItem(atPath: served.path) }
        let result = try http.convert(served.url, try http.trust + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(made.file("qemu.raw"), http.directory.file("out.img")))
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == ["gzip", "vmdk"])
    }

    @Test func descriptorOverHTTPSIsRefused() throws {
        let http = try HTTPFixture()
        let made = try TemporaryDirectory()
        let image = try VmdkMatrix.make("monolithic-flat", in: made)
        let served = try http.served(image, as: "disk.vmdk")
        defer { try? FileManager.default.removeItem(atPath: served.path) }
        for mode in [[], ["--http-random-access"]] {
            let result = try http.convert(served.url, try http.trust + mode)
            try http.expectFailure(result, containing: "because it has extent file disk-flat.vmdk")
        }
    }
}
