import Foundation
import Testing

@Suite struct Qcow2ConvertTests {
    @Test(arguments: Qcow2Matrix.valid)
    func convertsExactlyLikeQemuImg(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(name, in: dir)
        let expected = dir.file("qemu.raw"), actual = dir.file("diskimport.raw")
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, expected)
        let result = try Harness.diskimport("convert", image, actual)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(expected, actual), "\(name): output differs from qemu-img convert -O raw")
    }

    @Test(arguments: Qcow2Matrix.malformed)
    func refusesMalformedImageWithOneClearLine(_ malformed: Qcow2Matrix.Malformed) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(malformed.name, in: dir)
        let outputDir = dir.file("out")
        try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: false)
        let target = outputDir + "/disk.img"
        // No hang, bounded memory.
        let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert", image, target])
        #expect(result.status == 1, "\(malformed.name): exit \(result.status): \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(malformed.name): \(result.stderr)")
        #expect(result.stderr.contains(malformed.expected), "\(malformed.name): \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputDir).isEmpty, "\(malformed.name): a target file was left behind")
        #expect(maxRSSKiB < 128 << 10, "\(malformed.name): peak RSS \(maxRSSKiB) KiB")
    }

    @Test func matrixListsEveryCaseTheGeneratorMakes() throws {
        let listed = try Harness.tool(Qcow2Matrix.generator, "--list").stdout.split(separator: "\n").map(String.init)
        let expected = Qcow2Matrix.valid.map { "valid \($0)" } + Qcow2Matrix.malformed.map { "malformed \($0.name)" }
        #expect(listed == expected)
    }

    @Test func noBackingRefusesAnImageWithABackingFile() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("backing-qcow2", in: dir)
        let result = try Harness.diskimport("convert", "--no-backing", image, dir.file("out.img"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("has a backing file (base.qcow2)"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }
}
