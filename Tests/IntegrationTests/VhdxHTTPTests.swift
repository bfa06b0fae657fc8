import Foundation
import Testing

/// vhdx over HTTPS from the fixtures' nginx: streamed (plain and gzip-wrapped, no scratch) and by ranged random
/// access, byte for byte against qemu-img.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct VhdxHTTPTests {
    @Test(arguments: ["dynamic-1m", "fixed-no-zero-state", "converted-2m", "sectors-4k-8m"],
          [("", []), (".gz", []), ("", ["--http-random-access"])])
    func vhdxOverHTTPSMatchesTheOracle(_ name: String, mode: (wrapper: String, flags: [String])) throws {
        let http = try HTTPFixture()
        let image = try VhdxMatrix.make(name, in: http.directory)
        try VhdxMatrix.expected(name, image: image, output: http.directory.file("expected.raw"))
        if mode.wrapper == ".gz" { try Harness.tool("gzip", "-k", image) }
        let served = try http.served(image + mode.wrapper, as: name + ".vhdx" + mode.wrapper)
        defer { try? FileManager.default.removeItem(atPath: served.path) }
        let result = try http.convert(served.url, try http.trust + mode.flags + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(http.directory.file("expected.raw"), http.directory.file("out.img")), "\(name) \(mode)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == (mode.wrapper == ".gz" ? ["gzip", "vhdx"] : ["vhdx"]))
    }

    @Test func aStreamedImageWhoseBlocksComeBeforeTheBATNeedsScratch() throws {
        let http = try HTTPFixture()
        let image = try VhdxMatrix.make("bat-after-data", in: http.directory)
        let served = try http.served(image, as: "bat-after-data.vhdx")
        defer { try? FileManager.default.removeItem(atPath: served.path) }
        try http.expectFailure(try http.convert(served.url, try http.trust), containing: "scratch space required")
        let ranged = try http.convert(served.url, try http.trust + ["--http-random-access"])
        #expect(ranged.status == 0, "\(ranged.stderr)")
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, http.directory.file("qemu.raw"))
        #expect(try Files.identical(http.directory.file("qemu.raw"), http.directory.file("out.img")))
    }
}
