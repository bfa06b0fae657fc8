import Codecs
import DiskImportCore
import Foundation
import Testing

@Suite struct SafeArchiveExtractorTests {
    static let payload = sampleData(300_000, seed: 5)

    /// A data directory with a sibling holding a secret, to prove nothing outside the directory is touched.
    final class Sandbox {
        let scratch: Scratch
        var data: String { scratch.file("data") }
        var outside: String { scratch.file("outside") }
        var secret: String { scratch.file("outside/secret") }

        init() throws {
            scratch = try Scratch()
            try FileManager.default.createDirectory(atPath: scratch.file("data"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: scratch.file("outside"), withIntermediateDirectories: true)
            try write(Array("secret".utf8), to: scratch.file("outside/secret"))
        }

        func extract(_ entries: [TarEntrySpec], limit: UInt64 = 1 << 30, compressor: String? = nil) throws -> SafeArchiveExtractor.Summary {
            let tar = try makeTar(entries, at: scratch.file("archive.tar"), compressor: compressor)
            return try SafeArchiveExtractor(maximumTotalBytes: limit).extract(MemoryStream(try contents(tar)), into: data)
        }

        /// The outside directory holds exactly the secret, unchanged, and nothing appeared next to the data directory.
        func expectOutsideUntouched(sourceLocation: SourceLocation = #_sourceLocation) throws {
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["secret"], sourceLocation: sourceLocation)
            #expect(try contents(secret) == Array("secret".utf8), sourceLocation: sourceLocation)
            let siblings = Set(try FileManager.default.contentsOfDirectory(atPath: scratch.path))
            #expect(siblings.isSubset(of: ["data", "outside", "archive.tar"]), "\(siblings)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [nil, "gzip", "xz", "zstd"])
    func extractsFilesDirectoriesAndLinksThatStayInside(_ compressor: String?) throws {
        let box = try Sandbox()
        let summary = try box.extract([
            .directory("images"),
            .file("images/disk.img", Self.payload, mode: 0o4755),
            .file("./top.txt", Array("top".utf8)),
            .file("deep/er/file", Array("auto-created parents".utf8)),
            .symlink("images/current", to: "disk.img"),
            .symlink("deep/er/up", to: "../../top.txt"),
            .hardlink("images/same.img", to: "images/disk.img"),
            .file("top.txt", Array("replaced".utf8)),
        ], compressor: compressor)
        #expect(summary.entries == 8)
        let fm = FileManager.default
        #expect(try contents(box.data + "/images/disk.img") == Self.payload)
        #expect(try contents(box.data + "/images/same.img") == Self.payload)
        #expect(try fm.destinationOfSymbolicLink(atPath: box.data + "/images/current") == "disk.img")
        #expect(try contents(box.data + "/deep/er/up") == Array("replaced".utf8))
        #expect(try contents(box.data + "/deep/er/file") == Array("auto-created parents".utf8))
        let mode = try fm.attributesOfItem(atPath: box.data + "/images/disk.img")[.posixPermissions] as? Int
        #expect(mode == 0o755, "set-id bits are dropped")
        try box.expectOutsideUntouched()
    }

    @Test func zeroRunsBecomeHoles() throws {
        let box = try Sandbox()
        let sparse = [UInt8](repeating: 1, count: 4096) + [UInt8](repeating: 0, count: 4 << 20) + [UInt8](repeating: 2, count: 4096)
        _ = try box.extract([.file("disk.img", sparse)])
        #expect(try contents(box.data + "/disk.img") == sparse)
        var st = stat()
        #expect(stat(box.data + "/disk.img", &st) == 0)
        #expect(Int(st.st_blocks) * 512 < 1 << 20)
    }

    static let hostile: [(String, [TarEntrySpec], String)] = [
        ("absolute path", [.file("/tmp/evil", [1])], "absolute path"),
        ("dot-dot path", [.file("../outside/evil", [1])], "'..'"),
        ("dot-dot inside a path", [.directory("a"), .file("a/../../outside/evil", [1])], "'..'"),
        ("absolute symlink", [.symlink("link", to: "/etc")], "is absolute"),
        ("symlink leaving", [.symlink("link", to: "../outside")], "leaves the directory"),
        ("deep symlink leaving", [.symlink("a/b/link", to: "../../../outside/secret")], "leaves the directory"),
        ("symlink climbing after descending", [.symlink("x", to: "a/../..")], "climbs back up"),
        ("write through a planted symlink", [.directory("sub"), .symlink("link", to: "sub"), .file("link/evil", [1])],
         "is a symlink or not a directory"),
        ("write through a symlink planted as a directory", [.symlink("d", to: "."), .directory("d/e")],
         "is a symlink or not a directory"),
        ("absolute hard link", [.hardlink("h", to: "/etc/passwd")], "absolute hard link target"),
        ("hard link leaving", [.hardlink("h", to: "../outside/secret")], "'..'"),
        ("hard link through a symlink", [.symlink("s", to: "."), .hardlink("h", to: "s/x")], "is a symlink or not a directory"),
        ("character device", [.device("dev/evil")], "device node"),
        ("block device", [.device("sda", block: true)], "device node"),
        ("fifo", [.fifo("pipe")], "fifo"),
        ("a file over a directory", [.directory("d"), .file("d", [1])], "is a directory"),
    ]

    @Test(arguments: 0..<hostile.count)
    func hostileArchivesAreRefusedAndNothingLeaves(_ index: Int) throws {
        let (name, entries, expected) = Self.hostile[index]
        let box = try Sandbox()
        let error = diskImportError { _ = try box.extract(entries) }
        #expect(error?.message.contains(expected) == true, "\(name): \(String(describing: error))")
        #expect(error?.message.hasPrefix("tar: ") == true || error?.kind == .io, "\(name): \(String(describing: error))")
        try box.expectOutsideUntouched()
    }

    /// A later file entry named like an earlier symlink replaces the link; it never writes through it.
    @Test func aFileReplacingASymlinkDoesNotWriteItsTarget() throws {
        let box = try Sandbox()
        try write(Array("keep".utf8), to: box.data + "/target")
        _ = try box.extract([.symlink("link", to: "target"), .file("link", Array("new".utf8))])
        #expect(try contents(box.data + "/target") == Array("keep".utf8))
        #expect(try contents(box.data + "/link") == Array("new".utf8))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: box.data + "/link")) == nil)
    }

    @Test func totalSizeIsBounded() throws {
        let box = try Sandbox()
        let error = diskImportError {
            _ = try box.extract([.file("a", Self.payload), .file("b", Self.payload)], limit: 500_000, compressor: "zstd")
        }
        #expect(error?.kind == .limit)
        #expect(error?.message == "tar: archive data exceeds 500000 bytes (at b)")
    }
}
