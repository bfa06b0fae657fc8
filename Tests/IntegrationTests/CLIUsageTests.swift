import Foundation
import Testing

/// The command line as a qemu-img user meets it: qemu-img's flags that mean the same here, exit 64 for every usage
/// error (a bad value as much as an unknown flag), and messages that say what to type instead.
@Suite struct CLIUsageTests {
    private func source(in dir: TemporaryDirectory) throws -> String {
        let path = dir.file("disk.raw")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(path)", "bs=64K", "count=4", "status=none")
        return path
    }

    /// Exit 64 with one "diskimport: error:" line containing `message`, and no target.
    private func expectUsageError(_ result: Harness.Result, _ message: String, noFile target: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 64, "status \(result.status): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: target), sourceLocation: sourceLocation)
    }

    @Test(arguments: ["10K", "10GB", "10g"])
    func anInvalidQuantityIsAUsageErrorListingTheSuffixes(size: String) throws {
        let dir = try TemporaryDirectory()
        let result = try Harness.diskimport("convert", try source(in: dir), dir.file("out.img"), "--size", size)
        expectUsageError(result, "invalid quantity \"\(size)\"", noFile: dir.file("out.img"))
        #expect(result.stderr.contains("Ki Mi Gi Ti Pi Ei (powers of 1024) or k M G T P E (powers of 1000)"))
    }

    @Test(arguments: [
        (["--stall-timeout", "0"], "--stall-timeout 0: must be a positive number of seconds"),
        (["--connect-timeout=-1"], "--connect-timeout -1: must be a positive number of seconds"),
        (["--first-byte-timeout", "0"], "--first-byte-timeout 0: must be a positive number of seconds"),
        (["--retries=-1"], "--retries must not be negative"),
        (["--filesystem-overhead", "2"], "invalid filesystem overhead \"2\""),
        (["-O", "qcow2"], "-O qcow2: diskimport writes raw disks only (-O raw)"),
        (["--checksum", "sha256:12"], "a sha256 digest is 64 hex digits"),
        (["--proxy", "notaurl"], "--proxy notaurl is not a proxy URL: no scheme and no port"),
        (["--proxy", "ftp://proxy:21"], "--proxy ftp://proxy:21 is not a proxy URL: the scheme ftp"),
        (["--arch", "linux/"], "--arch \"linux/\" is not ARCH or ARCH/VARIANT"),
    ] as [([String], String)])
    func aBadFlagValueExitsAsAParserErrorDoes(arguments: [String], message: String) throws {
        let dir = try TemporaryDirectory()
        let result = try Harness.run(Harness.binary, ["convert", try source(in: dir), dir.file("out.img")] + arguments)
        expectUsageError(result, message, noFile: dir.file("out.img"))
    }

    @Test func qemuImgsConvertFlagsAreAccepted() throws {
        let dir = try TemporaryDirectory()
        let raw = try source(in: dir)
        let result = try Harness.diskimport("convert", "-p", "-O", "raw", raw, dir.file("out.img"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(raw, dir.file("out.img")))
        #expect(result.stderr.contains("diskimport: progress: 100%"), "-p shows progress: \(result.stderr)")
    }

    @Test func versionAndHelpSayWhatSourcesAre() throws {
        let version = try Harness.diskimport("--version")
        #expect(version.status == 0)
        #expect(version.stdout.hasPrefix("diskimport version "), "\(version.stdout)")
        let help = try Harness.diskimport("--help")
        #expect(help.status == 0)
        let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flat.contains("Convert SOURCE (a path, an http(s):// URL or a docker:// reference)"), "\(help.stdout)")
        #expect(!flat.contains("SOURCE (a path)"))
    }

    @Test(arguments: ["", "/", "//"])
    func aDirectoryTargetSuggestsAFileInIt(suffix: String) throws {
        let dir = try TemporaryDirectory()
        let result = try Harness.diskimport("convert", try source(in: dir), dir.path + suffix)
        #expect(result.status == 1)
        #expect(result.stderr.contains("such as \(dir.path)/disk.img\n"), "\(result.stderr)")
        #expect(!result.stderr.contains("//disk.img"))
    }

    /// info reads only an image's head, so it cannot verify a checksum of the whole file: it refuses the flag
    /// (it accepted and ignored it).
    @Test func infoRefusesChecksum() throws {
        let dir = try TemporaryDirectory()
        let result = try Harness.diskimport("info", try source(in: dir), "--checksum", "sha256:" + String(repeating: "0", count: 64))
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--checksum") && result.stdout.isEmpty, "\(result.stderr)")
    }

    /// A three-image chain (qcow2 → qcow2 → raw, relative names) against `qemu-img info --backing-chain`.
    @Test func infoBackingChainDescribesEveryImageAsQemuImgDoes() throws {
        let dir = try TemporaryDirectory()
        try Harness.tool("qemu-img", "create", "-q", "-f", "raw", dir.file("base.raw"), "4M")
        try Harness.tool("sh", "-c", """
            cd \(dir.path) && qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 && \
            qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
            """)
        let top = dir.file("top.qcow2")
        let ours = try Harness.diskimport("info", "--backing-chain", top)
        let theirs = try Harness.tool("qemu-img", "info", "--backing-chain", top)
        #expect(ours.status == 0, "\(ours.stderr)")
        func images(_ text: String) -> [String] { text.split(separator: "\n").filter { $0.hasPrefix("image: ") }.map(String.init) }
        #expect(images(ours.stdout) == images(theirs.stdout))
        #expect(images(ours.stdout).count == 3)
        // One blank line between two images, none at the end, as qemu-img prints them.
        #expect(ours.stdout.components(separatedBy: "\n\nimage: ").count == 3, "\(ours.stdout)")
        #expect(!ours.stdout.hasSuffix("\n\n"))

        let json = try Harness.diskimport("info", "--backing-chain", "--output", "json", top)
        let theirJSON = try Harness.tool("qemu-img", "info", "--backing-chain", "--output", "json", top)
        func summary(_ text: String) throws -> [[String]] {
            let array = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
            return array.map { [$0["filename"] as? String ?? "", $0["format"] as? String ?? "", "\($0["virtual-size"] ?? "")",
                                $0["full-backing-filename"] as? String ?? ""] }
        }
        #expect(try summary(json.stdout) == summary(theirJSON.stdout))

        // Without the flag, one image, as before.
        #expect(images(try Harness.diskimport("info", top).stdout).count == 1)
    }

    @Test func infoBackingChainRefusesALoop() throws {
        let dir = try TemporaryDirectory()
        try Harness.tool("sh", "-c", """
            cd \(dir.path) && qemu-img create -q -f qcow2 a.qcow2 4M && qemu-img create -q -f qcow2 -b a.qcow2 -F qcow2 b.qcow2 && \
            qemu-img rebase -u -f qcow2 -b b.qcow2 -F qcow2 a.qcow2
            """)
        let result = try Harness.diskimport("info", "--backing-chain", dir.file("b.qcow2"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("the backing chain loops"), "\(result.stderr)")
    }
}
