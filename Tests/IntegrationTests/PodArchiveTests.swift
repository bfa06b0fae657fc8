import Foundation
import Testing

/// IMPORTER_CONTENTTYPE=archive over HTTP: a tar extracted into the data volume, safely.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason)) struct PodArchiveTests {
    /// Puts `file` where the fixtures' nginx serves it over plain HTTP and returns its URL.
    static func serve(_ file: String, _ fixtures: Fixtures) throws -> String {
        let name = UUID().uuidString + "-" + URL(fileURLWithPath: file).lastPathComponent
        try FileManager.default.copyItem(atPath: file, toPath: try fixtures["SCRATCH_WWW_DIR"] + "/" + name)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: try fixtures["SCRATCH_WWW_DIR"] + "/" + name)
        return "http://127.0.0.1:\(try fixtures["HTTP_PORT"])/scratch/\(name)"
    }

    static func environment(_ url: String) -> [String: String] {
        ["IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": url, "IMPORTER_CONTENTTYPE": "archive",
         "IMPORTER_IMAGE_SIZE": "64Mi", "PREALLOCATION": "false", "FILESYSTEM_OVERHEAD": "0.055"]
    }

    @Test(arguments: ["", "-z", "-J", "--zstd"]) func archiveIsExtractedIntoTheVolume(_ compression: String) throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let tree = pod.dir.file("tree")
        try FileManager.default.createDirectory(atPath: tree + "/sub/empty", withIntermediateDirectories: true)
        try "hello\n".write(toFile: tree + "/a.txt", atomically: true, encoding: .utf8)
        try Harness.tool("dd", "if=/dev/urandom", "of=\(tree)/sub/b.bin", "bs=64K", "count=3", "status=none")
        try FileManager.default.createSymbolicLink(atPath: tree + "/sub/link", withDestinationPath: "../a.txt")
        let archive = pod.dir.file("tree.tar")
        try Harness.run("tar", ["-C", tree, "-cf", archive] + (compression.isEmpty ? [] : [compression]) + ["."])
        let outcome = try pod.run(Self.environment(try Self.serve(archive, fixtures)))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#)
        #expect(try Harness.run("diff", ["-r", "--no-dereference", tree, pod.dataDirectory]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: pod.dataDirectory + "/sub/link") == "../a.txt")
        #expect(try pod.dataEntries() == ["a.txt", "sub"])
    }

    @Test func escapingEntryFailsAndLeavesTheVolumeEmpty() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let archive = pod.dir.file("evil.tar")
        try Harness.tool("python3", "-c", """
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w") as t:
                for name in ["fine.txt", "../evil.txt"]:
                    info = tarfile.TarInfo(name); info.size = 4
                    t.addfile(info, io.BytesIO(b"data"))
            """, archive)
        let outcome = try pod.run(Self.environment(try Self.serve(archive, fixtures)))
        #expect(outcome.status == 1)
        #expect(outcome.termination?.hasPrefix("Unable to process data: tar: ") == true, "\(outcome.termination ?? "")")
        #expect(outcome.termination?.contains("..") == true)
        #expect(try pod.dataEntries() == [])
        #expect(!FileManager.default.fileExists(atPath: pod.dir.path + "/evil.txt"))
    }

    @Test func archiveChecksumMismatchLeavesNothing() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let archive = pod.dir.file("one.tar.gz")
        try "x\n".write(toFile: pod.dir.file("x.txt"), atomically: true, encoding: .utf8)
        try Harness.tool("tar", "-C", pod.dir.path, "-czf", archive, "x.txt")
        var env = Self.environment(try Self.serve(archive, fixtures))
        env["IMPORTER_CHECKSUM"] = "md5:" + String(repeating: "f", count: 32)
        let outcome = try pod.run(env)
        #expect(outcome.status == 1)
        #expect(outcome.termination?.contains("checksum mismatch") == true)
        #expect(try pod.dataEntries() == [])
    }
}
