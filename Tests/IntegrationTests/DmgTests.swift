import Foundation
import Testing

/// A UDIF (.dmg) image, which qemu-img probes only by its name and diskimport would otherwise copy as a raw disk, is
/// refused by its 512-byte `koly` trailer: before anything is written where the end can be read first (a local file,
/// HTTP with ranges), at the stream's end otherwise, with the target removed.
@Suite struct DmgTests {
    /// 1 MiB of data and a UDIF trailer: "koly", version 4, header size 512 (big-endian), the rest zeros.
    static func makeDmg(in dir: TemporaryDirectory) throws -> String {
        let path = dir.file("image.dmg")
        var bytes = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        bytes += Array("koly".utf8) + [0, 0, 0, 4, 0, 0, 2, 0] + [UInt8](repeating: 0, count: 500)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The import failed with `message`, in the phase `phase` ("Info": before the target was written), and left no
    /// target behind.
    static func expectRefused(_ result: Harness.Result, _ message: String, phase: String, in dir: TemporaryDirectory,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == 1, sourceLocation: sourceLocation)
        #expect(result.stderr.contains("diskimport: error: \(message)\n"), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains("phase Error during \(phase): \(message)"), "\(result.stderr)", sourceLocation: sourceLocation)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("out.img") }
        #expect(left.isEmpty, "left behind: \(left)", sourceLocation: sourceLocation)
    }

    @Test func aLocalDmgIsRefusedBeforeWriting() throws {
        let dir = try TemporaryDirectory()
        let dmg = try Self.makeDmg(in: dir)
        try Self.expectRefused(try Harness.diskimport("convert", "-v", dmg, dir.file("out.img")), "unsupported format dmg",
                               phase: "Info", in: dir)
        let info = try Harness.diskimport("info", dmg)
        #expect(info.status == 1)
        #expect(info.stderr.contains("unsupported format dmg"), "\(info.stderr)")
    }

    @Test(arguments: [("gzip -c $IN > $OUT", "gzip"), ("xz -T2 -c $IN > $OUT", "xz"), ("xz -T1 -c $IN > $OUT", "xz"),
                      ("zstd -q -c $IN > $OUT", "zstd"),
                      ("mkdir -p $DIR/t/disk && cp $IN $DIR/t/disk/x.img && tar -C $DIR/t -cf $OUT disk/x.img", "tar")])
    func aWrappedDmgIsRefusedAtItsEnd(_ command: String, _ wrapper: String) throws {
        let dir = try TemporaryDirectory()
        let dmg = try Self.makeDmg(in: dir)
        let source = dir.file("wrapped")
        try Harness.tool("bash", "-c", command.replacingOccurrences(of: "$IN", with: dmg)
            .replacingOccurrences(of: "$OUT", with: source).replacingOccurrences(of: "$DIR", with: dir.path))
        try Self.expectRefused(try Harness.diskimport("convert", "-v", source, dir.file("out.img")),
                               "unsupported format dmg inside \(wrapper)", phase: "Transfer", in: dir)
    }

    @Test func aKolyThatIsNotATrailerIsData() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        // "koly" at the start of the last sector, but not a UDIF header (version 1).
        var bytes = [UInt8](repeating: 9, count: 4096)
        bytes.replaceSubrange(3584..<3596, with: Array("koly".utf8) + [0, 0, 0, 1, 0, 0, 2, 0])
        try Data(bytes).write(to: URL(fileURLWithPath: raw))
        let result = try Harness.diskimport("convert", raw, dir.file("out.img"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(raw, dir.file("out.img")))
    }
}

@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct DmgNetworkTests {
    @Test func overHTTPSWithRangesTheTailIsReadFirst() throws {
        let http = try HTTPFixture()
        let served = try http.served(try DmgTests.makeDmg(in: http.directory), as: "image.dmg")
        try DmgTests.expectRefused(try http.convert(served.url, try http.trust + ["-v"]), "unsupported format dmg",
                                   phase: "Info", in: http.directory)
    }

    @Test func overHTTPSInsideGzipItIsRefusedAtTheEnd() throws {
        let http = try HTTPFixture()
        let dmg = try DmgTests.makeDmg(in: http.directory)
        try Harness.tool("gzip", "-k", dmg)
        let served = try http.served(dmg + ".gz", as: "image.dmg.gz")
        try DmgTests.expectRefused(try http.convert(served.url, try http.trust + ["-v"]), "unsupported format dmg inside gzip",
                                   phase: "Transfer", in: http.directory)
    }
}
