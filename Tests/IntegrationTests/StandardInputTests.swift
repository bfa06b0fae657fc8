import Foundation
import Testing

/// `-`, /dev/stdin, pipes and FIFOs are read as streams (every format and wrapper, the same scratch rule as HTTP),
/// which qemu-img cannot do; a file redirected into standard input is read as the file it is.
@Suite struct StandardInputTests {
    /// Runs `producer | diskimport ARGUMENTS...` under bash.
    static func piped(_ producer: String, _ arguments: [String]) throws -> Harness.Result {
        try Harness.run("bash", ["-c", "\(producer) | \"$0\" \"$@\"", Harness.binary] + arguments)
    }

    /// Shell commands making $OUT from $IMAGE (a qcow2), and the layers diskimport reports for it.
    static let wrappings: [(String, [String])] = [
        ("cp $IMAGE $OUT", ["qcow2"]),
        ("qemu-img convert -f qcow2 -O raw $IMAGE $OUT", ["raw"]),
        ("gzip -c $IMAGE > $OUT", ["gzip", "qcow2"]),
        ("xz -T2 -c $IMAGE > $OUT", ["xz", "qcow2"]),
        ("qemu-img convert -f qcow2 -O raw $IMAGE $OUT.raw && xz -T2 -c $OUT.raw > $OUT", ["xz", "raw"]),
        ("zstd -q -c $IMAGE > $OUT", ["zstd", "qcow2"]),
        ("mkdir -p $DIR/t/disk && cp $IMAGE $DIR/t/disk/disk.qcow2 && tar -C $DIR/t -cf $OUT disk/disk.qcow2", ["tar", "qcow2"]),
    ]

    /// A qcow2 with scattered data, the wrapped source made from it, and qemu-img's raw conversion of it.
    static func source(_ command: String, in dir: TemporaryDirectory) throws -> (source: String, oracle: String) {
        let image = try Qcow2Matrix.make("v3-64k", in: dir)
        let out = dir.file("source")
        try Harness.tool("bash", "-c", command.replacingOccurrences(of: "$IMAGE", with: image)
            .replacingOccurrences(of: "$OUT", with: out).replacingOccurrences(of: "$DIR", with: dir.path))
        try Harness.tool("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image, dir.file("oracle.raw"))
        return (out, dir.file("oracle.raw"))
    }

    static func summary(_ stdout: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any]) ?? [:]
    }

    @Test(arguments: 0..<wrappings.count, ["-", "/dev/stdin"])
    func aPipeConvertsEveryFormatAndWrapper(_ index: Int, _ name: String) throws {
        let (command, layers) = Self.wrappings[index]
        let dir = try TemporaryDirectory()
        let (source, oracle) = try Self.source(command, in: dir)
        let result = try Self.piped("cat \(source)", ["convert", name, dir.file("out.img"), "--json"])
        #expect(result.status == 0, "\(command): \(result.stderr)")
        #expect(try Files.identical(oracle, dir.file("out.img")), "\(command)")
        let json = Self.summary(result.stdout)
        #expect(json["layers"] as? [String] == layers, "\(command): \(result.stdout)")
        #expect(json["scratch-bytes"] as? Int == 0)
    }

    @Test func aFIFOIsAStream() throws {
        let dir = try TemporaryDirectory()
        let (source, oracle) = try Self.source(Self.wrappings[2].0, in: dir)
        let fifo = dir.file("fifo")
        try Harness.tool("mkfifo", fifo)
        let result = try Harness.run("bash", ["-c", "cat \(source) > \(fifo) & \"$0\" \"$@\"; status=$?; wait; exit $status",
                                              Harness.binary, "convert", fifo, dir.file("out.img"), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(oracle, dir.file("out.img")))
        #expect(Self.summary(result.stdout)["layers"] as? [String] == ["gzip", "qcow2"])
    }

    @Test func aFileRedirectedInIsReadAsAFile() throws {
        let dir = try TemporaryDirectory()
        let (source, oracle) = try Self.source(Self.wrappings[0].0, in: dir)
        let result = try Harness.run("bash", ["-c", "\"$0\" \"$@\" < \(source)", Harness.binary, "convert", "-", dir.file("out.img")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(oracle, dir.file("out.img")))
    }

    @Test func dataBeforeItsTableNeedsScratchAsOverHTTP() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("needs-scratch", in: dir)
        let refused = try Self.piped("cat \(image)", ["convert", "-", dir.file("out.img")])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("scratch space required"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
        let scratch = dir.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        let result = try Self.piped("cat \(image)", ["convert", "-", dir.file("out.img"), "--scratch", scratch, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.summary(result.stdout)["scratch-bytes"] as? Int ?? 0 > 0)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.img")))
    }

    @Test func infoDescribesAPipe() throws {
        let dir = try TemporaryDirectory()
        let (source, _) = try Self.source(Self.wrappings[2].0, in: dir)
        let image = try Qcow2Matrix.make("v3-64k", in: dir)
        let qemu = Self.summary(try Harness.tool("qemu-img", "info", "--output", "json", image).stdout)
        let result = try Self.piped("cat \(source)", ["info", "-", "--output", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let ours = Self.summary(result.stdout)
        #expect(ours["filename"] as? String == "stdin")
        #expect(ours["layers"] as? [String] == ["gzip", "qcow2"])
        #expect(ours["virtual-size"] as? Int == qemu["virtual-size"] as? Int)
    }

    @Test func aDirectoryIsNotADiskImage() throws {
        let dir = try TemporaryDirectory()
        let result = try Harness.diskimport("convert", dir.path, dir.file("out.img"))
        try Harness.expectFailure(result, containing: "is a directory, not a disk image", leavingNothingNamed: "out.img", in: dir)
    }
}
