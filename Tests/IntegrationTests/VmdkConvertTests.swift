import Foundation
import Testing

/// Local vmdk images, read with random access (extents and parents beside the descriptor), against qemu-img 7.2.
@Suite struct VmdkConvertTests {
    @Test(arguments: VmdkMatrix.valid)
    func convertsExactlyLikeQemuImg(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make(name, in: dir)
        let expected = dir.file("qemu.raw"), actual = dir.file("diskimport.raw")
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, expected)
        let result = try Harness.diskimport("convert", image, actual, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(expected, actual), "\(name): output differs from qemu-img convert -O raw")
        let summary = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["layers"] as? [String] == ["vmdk"])
    }

    @Test(arguments: VmdkMatrix.malformed)
    func refusesMalformedImageWithOneClearLine(_ malformed: Qcow2Matrix.Malformed) throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make(malformed.name, in: dir)
        let outputDir = dir.file("out")
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: false)
        let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert", image, outputDir + "/disk.img"])
        #expect(result.status == 1, "\(malformed.name): exit \(result.status): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(malformed.name): \(result.stderr)")
        #expect(result.stderr.contains(malformed.expected), "\(malformed.name): \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputDir).isEmpty, "\(malformed.name): a target file was left behind")
        #expect(maxRSSKiB < 128 << 10, "\(malformed.name): peak RSS \(maxRSSKiB) KiB")
    }

    @Test func matrixListsEveryCaseTheGeneratorMakes() throws {
        let listed = try Harness.tool(VmdkMatrix.generator, "--list").stdout.split(separator: "\n").map(String.init)
        let expected = VmdkMatrix.valid.map { "valid \($0)" } + VmdkMatrix.malformed.map { "malformed \($0.name)" }
        #expect(listed == expected)
    }

    /// qemu-img info's JSON for the same image, member for member (actual-size aside: it is the file's blocks,
    /// which both report; layers is diskimport's own).
    @Test(arguments: ["sparse", "sparse-grain-4k", "stream-optimized", "stream-vmware", "monolithic-flat", "twogb-flat",
                      "vmfs-flat", "sesparse", "delta", "descriptor-crlf"])
    func infoMatchesQemuImgInfo(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make(name, in: dir)
        func parsed(_ stdout: String) throws -> NSDictionary {
            var object = try #require(JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
            object["actual-size"] = nil
            object["layers"] = nil
            return object as NSDictionary
        }
        let qemu = try parsed(try Harness.tool("qemu-img", "info", "--output", "json", image).stdout)
        let result = try Harness.diskimport("info", "--output", "json", image)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try parsed(result.stdout) == qemu, "\(name): \(result.stdout)")
    }

    @Test func humanInfoNamesCreateTypeAndExtents() throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make("twogb-flat", in: dir)
        let result = try Harness.diskimport("info", image)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("file format: vmdk"))
        #expect(result.stdout.contains("    create type: twoGbMaxExtentFlat"))
        #expect(result.stdout.contains("            filename: \(dir.file("disk-f002.vmdk"))"))
    }

    @Test func noBackingRefusesADeltaDisk() throws {
        let dir = try TemporaryDirectory()
        let image = try VmdkMatrix.make("delta", in: dir)
        let result = try Harness.diskimport("convert", "--no-backing", image, dir.file("out.img"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("has a backing file (base.vmdk)"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }
}
