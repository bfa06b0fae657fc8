import Foundation
import Testing

/// `-f FMT` asserts the format inside any wrappers, as qemu-img users write it: an error when the bytes say otherwise.
@Suite struct FormatAssertionTests {
    @Test func theRightFormatPassesAndTheWrongOneIsRefused() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("v3-64k", in: dir)
        try Harness.tool("gzip", "-k", image)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        for (source, format) in [(image, "qcow2"), (image + ".gz", "qcow2"), (dir.file("qemu.raw"), "raw"), (image, "QCOW2")] {
            let ok = try Harness.diskimport("convert", "-f", format, source, dir.file("out.img"))
            #expect(ok.status == 0, "\(source) -f \(format): \(ok.stderr)")
            #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.img")))
            #expect(try Harness.diskimport("info", "-f", format, source).status == 0)
        }
        for (source, format, actual) in [(image, "raw", "qcow2"), (image + ".gz", "raw", "qcow2"), (dir.file("qemu.raw"), "qcow2", "raw"),
                                         (image, "vmdk", "qcow2")] {
            let target = "refused-\(format).img"
            let refused = try Harness.diskimport("convert", "--format", format, source, dir.file(target))
            try Harness.expectFailure(refused, containing: "the image is \(actual), not \(format) (-f \(format))",
                                      leavingNothingNamed: target, in: dir)
            let info = try Harness.diskimport("info", "-f", format, source)
            #expect(info.status == 1)
            #expect(info.stderr.contains("the image is \(actual), not \(format)"), "\(info.stderr)")
        }
    }

    @Test func insideMultiBlockXzTooTheBytesDecide() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("v3-64k", in: dir)
        try Harness.tool("xz", "-T2", "-k", image)
        let refused = try Harness.diskimport("convert", "-f", "raw", image + ".xz", dir.file("out.img"))
        try Harness.expectFailure(refused, containing: "the image is qcow2, not raw", leavingNothingNamed: "out.img", in: dir)
    }
}
