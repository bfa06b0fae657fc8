import Foundation
import Testing

/// `-f FMT` as qemu-img's `-f`: the probe is skipped. `-f raw` reads any image as its bytes, the named format must be
/// what the bytes are (else one line naming both), and wrappers around the image are peeled either way.
@Suite struct FormatOptionTests {
    @Test func theNamedFormatIsRead() throws {
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
    }

    /// `qemu-img convert -f raw` of a qcow2 is the qcow2 file's bytes, padded to a sector; inside gzip (which qemu-img
    /// cannot read) the same bytes, decompressed; inside multi-block xz too, decoded in parallel.
    @Test func rawReadsAnyImageAsItsBytes() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("v3-64k", in: dir)
        try Harness.tool("gzip", "-k", image)
        try Harness.tool("xz", "-T2", "--block-size=1MiB", "-k", image)
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", "raw", image, dir.file("qemu.raw"))
        for source in [image, image + ".gz", image + ".xz"] {
            let result = try Harness.diskimport("convert", "-f", "raw", source, dir.file("out.img"), "--json")
            #expect(result.status == 0, "\(source): \(result.stderr)")
            #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.img")), "\(source)")
            #expect(result.stdout.contains("\"format\":\"raw\""), "\(result.stdout)")
            let info = try Harness.diskimport("info", "-f", "raw", "--output", "json", source)
            #expect(info.stdout.contains("\"format\":\"raw\""), "\(source): \(info.stdout) \(info.stderr)")
        }
        let ours = try BlockMapConvertTests.summary(try Harness.diskimport("info", "-f", "raw", "--output", "json", image).stdout)
        let qemu = try BlockMapConvertTests.summary(try Harness.tool("qemu-img", "info", "-f", "raw", "--output", "json", image).stdout)
        #expect(ours["virtual-size"] as? Int == qemu["virtual-size"] as? Int)
    }

    /// A DMG is refused when probed; `-f raw` copies it as qemu-img does.
    @Test func rawCopiesWhatTheProbeRefuses() throws {
        let dir = try TemporaryDirectory()
        let dmg = try DmgTests.makeDmg(in: dir)
        try Harness.tool("gzip", "-k", dmg)
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", "raw", dmg, dir.file("qemu.raw"))
        for source in [dmg, dmg + ".gz"] {
            let result = try Harness.diskimport("convert", "-f", "raw", source, dir.file("out.img"))
            #expect(result.status == 0, "\(source): \(result.stderr)")
            #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.img")), "\(source)")
        }
    }

    @Test func aMismatchIsOneLineNamingBoth() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("v3-64k", in: dir)
        try Harness.tool("gzip", "-k", image)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        for (source, format, actual) in [(image, "vmdk", "qcow2"), (image, "vpc", "qcow2"), (image, "vhdx", "qcow2"),
                                         (image + ".gz", "vdi", "qcow2 inside gzip"), (dir.file("qemu.raw"), "qcow2", "raw")] {
            let target = "refused-\(format).img"
            let refused = try Harness.diskimport("convert", "--format", format, source, dir.file(target))
            try Harness.expectFailure(refused, containing: "not a \(format) image (-f \(format)): its bytes are \(actual)",
                                      leavingNothingNamed: target, in: dir)
            let info = try Harness.diskimport("info", "-f", format, source)
            #expect(info.status == 1)
            #expect(info.stderr.contains("not a \(format) image (-f \(format)): its bytes are \(actual)"), "\(info.stderr)")
        }
        let unknown = try Harness.diskimport("convert", "-f", "vhd", image, dir.file("unknown.img"))
        try Harness.expectFailure(unknown, containing: "-f vhd: unknown image format; diskimport reads raw, qcow2, vmdk, vpc, vhdx, vdi",
                                  leavingNothingNamed: "unknown", in: dir, status: 64)
        #expect(try Harness.diskimport("info", "-f", "vhd", image).status == 64)
    }
}
