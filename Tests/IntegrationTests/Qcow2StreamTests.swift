import Foundation
import Testing

/// qcow2 inside a compression wrapper, read front to back by the streaming reader.
@Suite struct Qcow2StreamTests {
    /// Images written by `qemu-img convert` (every L2 table before the clusters it maps): no scratch at all.
    static let convertedImages = ["v2-512", "v2-64k", "v3-512", "v3-4k", "v3-2m", "zlib-512", "zlib-64k", "zlib-2m",
                                  "zstd-4k", "zstd-2m", "extended-l2-compressed", "zero-plain"]
    /// Other variants the streaming reader must place exactly (scratch allowed).
    static let otherImages = ["zero-preallocated", "compressed-short-last", "extended-l2", "lazy-refcounts", "dirty",
                              "corrupt-bit", "bitmaps", "unaligned-size", "l2-entry-past-eof", "data-past-eof", "snapshots",
                              "l1-moved"]

    func summary(_ stdout: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test(arguments: convertedImages)
    func convertedImageStreamsWithoutScratch(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(name, in: dir)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        try Harness.tool("gzip", "-k", image)
        let result = try Harness.diskimport("convert", image + ".gz", dir.file("out.raw"), "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")))
        let json = try summary(result.stdout)
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == ["gzip", "qcow2"])
    }

    @Test(arguments: otherImages)
    func otherVariantsStreamExactly(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(name, in: dir)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        try Harness.tool("gzip", "-k", image)
        let scratch = dir.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        let result = try Harness.diskimport("convert", image + ".gz", dir.file("out.raw"), "--scratch", scratch)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "the scratch file was left behind")
    }

    @Test func dataBeforeItsTableNeedsScratch() throws {
        let name = "needs-scratch"
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(name, in: dir)
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
        #expect(try summary(result.stdout)["scratch-bytes"] as? Int ?? 0 > 0)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        #expect(try Files.identical(dir.file("qemu.raw"), target))
    }

    /// (the wrapper's extension, the shell command that makes $IMG.ext): gzip for the front-to-back reader, multi-block
    /// xz for the block-parallel one (XzParallelQcow2Reader).
    static let wrappers = [("gz", "gzip -k $IMG"), ("xz", "xz -T2 --block-size=64KiB -c $IMG > $IMG.xz")]

    @Test(arguments: Qcow2Matrix.malformed, 0..<wrappers.count)
    func malformedImageInsideAWrapperIsAOneLineError(_ malformed: Qcow2Matrix.Malformed, wrapper: Int) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(malformed.name, in: dir)
        let (ext, command) = Self.wrappers[wrapper]
        try Harness.tool("sh", "-c", "IMG=\(image); " + command)
        let outputDir = dir.file("out")
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: false)
        let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert", image + "." + ext, outputDir + "/disk.img"])
        #expect(result.status == 1, "\(malformed.name) in \(ext): exit \(result.status): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(malformed.name) in \(ext): \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputDir).isEmpty, "\(malformed.name) in \(ext): a target file was left behind")
        #expect(maxRSSKiB < 128 << 10, "\(malformed.name) in \(ext): peak RSS \(maxRSSKiB) KiB")
    }

    @Test func missingScratchDirectoryIsAOneLineError() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("v3-64k", in: dir)
        try Harness.tool("gzip", "-k", image)
        let result = try Harness.diskimport("convert", image + ".gz", dir.file("out.raw"), "--scratch", dir.file("nowhere"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("create scratch file in \(dir.file("nowhere"))"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.raw")))
    }

    @Test func infoReadsTheHeaderInsideTheWrapper() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("zstd-4k", in: dir)
        try Harness.tool("gzip", "-k", image)
        let result = try Harness.diskimport("info", image + ".gz", "--output", "json")
        #expect(result.status == 0, "\(result.stderr)")
        let info = try summary(result.stdout)
        #expect(info["layers"] as? [String] == ["gzip", "qcow2"])
        #expect(info["format"] as? String == "qcow2")
        #expect(info["virtual-size"] as? Int == 6 << 20)
        #expect(info["cluster-size"] as? Int == 4096)
    }
}
