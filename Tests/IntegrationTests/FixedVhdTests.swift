import Foundation
import Testing

/// A fixed vhd (its footer only at the end) is raw to the probe, footer and all; with `-f vpc` it is read as
/// `qemu-img convert -f vpc` reads it: sized by the footer, without it. Locally by random access; front to back
/// (inside gzip, from a pipe, over HTTPS) every byte but the last 512 goes out as it comes and the footer then
/// says the size.
@Suite struct FixedVhdTests {
    static func oracle(_ image: String, in dir: TemporaryDirectory) throws -> String {
        try Harness.tool("qemu-img", "convert", "-f", "vpc", "-O", "raw", image, dir.file("qemu.raw"))
        return dir.file("qemu.raw")
    }

    @Test(arguments: BlockMapMatrix.fixedVpc)
    func convertsLikeQemuImgFVpc(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try BlockMapMatrix.make(name, in: dir)
        let qemu = try Self.oracle(image, in: dir)
        try Harness.tool("gzip", "-k", image)
        let sources: [(String, [String])] = [(image, ["vpc"]), (image + ".gz", ["gzip", "vpc"])]
        for (source, layers) in sources {
            let result = try Harness.diskimport("convert", "-f", "vpc", source, dir.file("out.raw"), "--json")
            #expect(result.status == 0, "\(source): \(result.stderr)")
            #expect(try Files.identical(qemu, dir.file("out.raw")), "\(source): output differs from qemu-img convert -f vpc")
            let json = try BlockMapConvertTests.summary(result.stdout)
            #expect(json["layers"] as? [String] == layers)
            #expect(json["scratch-bytes"] as? Int == 0)
        }
        let piped = try StandardInputTests.piped("cat \(image)", ["convert", "-f", "vpc", "-", dir.file("piped.raw")])
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try Files.identical(qemu, dir.file("piped.raw")), "\(name): piped output differs")
        // Probed, it is raw: qemu-img keeps the footer, and so does diskimport.
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("probed-qemu.raw"))
        #expect(try Harness.diskimport("convert", image, dir.file("probed.raw")).status == 0)
        #expect(try Files.identical(dir.file("probed-qemu.raw"), dir.file("probed.raw")))
    }

    @Test(arguments: BlockMapMatrix.fixedVpc)
    func infoMatchesQemuImgInfoFVpc(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try BlockMapMatrix.make(name, in: dir)
        let ours = try BlockMapConvertTests.summary(try Harness.diskimport("info", "-f", "vpc", "--output", "json", image).stdout)
        let qemu = try BlockMapConvertTests.summary(try Harness.tool("qemu-img", "info", "-f", "vpc", "--output", "json", image).stdout)
        #expect(ours["virtual-size"] as? Int == qemu["virtual-size"] as? Int, "\(name)")
        #expect(ours["format"] as? String == "vpc")
        #expect(ours["cluster-size"] == nil && qemu["cluster-size"] == nil)
        try Harness.tool("gzip", "-k", image)
        let wrapped = try Harness.diskimport("info", "-f", "vpc", image + ".gz")
        #expect(wrapped.status == 1)
        #expect(wrapped.stderr.contains("a fixed vhd's footer is at its end, past what info reads of a stream"), "\(wrapped.stderr)")
    }

    @Test(arguments: BlockMapMatrix.malformedFixedVpc)
    func refusesMalformedFixedVhdWithOneLine(_ malformed: BlockMapMatrix.Malformed) throws {
        let dir = try TemporaryDirectory()
        let image = try BlockMapMatrix.make(malformed.name, in: dir)
        try Harness.tool("gzip", "-k", image)
        for source in [image, image + ".gz"] {
            let result = try Harness.diskimport("convert", "-f", "vpc", source, dir.file("out.raw"))
            try Harness.expectFailure(result, containing: malformed.expected, leavingNothingNamed: "out.raw", in: dir)
        }
    }

    /// Not a vhd at all: the footer qemu looks for at the end is not there ("invalid VPC image"), or the file is
    /// shorter than one.
    @Test func aFileWithoutAFooterIsRefused() throws {
        let dir = try TemporaryDirectory()
        try Harness.tool("dd", "if=/dev/urandom", "of=\(dir.file("noise"))", "bs=64k", "count=4", "status=none")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(dir.file("tiny"))", "bs=100", "count=1", "status=none")
        try Harness.tool("gzip", "-k", dir.file("noise"), dir.file("tiny"))
        for (source, message) in [("noise", "vpc: invalid VPC image (no \"conectix\" footer)"),
                                  ("noise.gz", "vpc: invalid VPC image (no \"conectix\" footer)"),
                                  ("tiny", "vpc: File too small for a VHD header (100 bytes)"),
                                  ("tiny.gz", "vpc: File too small for a VHD header (100 bytes)")] {
            let result = try Harness.diskimport("convert", "-f", "vpc", dir.file(source), dir.file("out.raw"))
            try Harness.expectFailure(result, containing: message, leavingNothingNamed: "out.raw", in: dir)
        }
    }
}

/// A fixed vhd over HTTPS with `-f vpc`: front to back by default, by ranged reads with --http-random-access.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct FixedVhdHTTPTests {
    @Test(arguments: ["vpc-fixed-writes", "vpc-fixed-creator-win"], [false, true])
    func httpsIsByteIdentical(_ name: String, ranged: Bool) throws {
        let http = try HTTPFixture()
        let image = try BlockMapMatrix.make(name, in: http.directory)
        let qemu = try FixedVhdTests.oracle(image, in: http.directory)
        let served = try http.served(image, as: "disk.vhd")
        defer { try? FileManager.default.removeItem(atPath: served.path) }
        let result = try http.convert(served.url, try http.trust + ["-f", "vpc", "--json"] + (ranged ? ["--http-random-access"] : []))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(qemu, http.directory.file("out.img")))
        let json = try BlockMapConvertTests.summary(result.stdout)
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == ["vpc"])
    }
}
