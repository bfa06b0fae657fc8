import Foundation
import Testing

/// libcurl and libarchive (and the 37 libraries they bring) are opened on first use, not at start (issue 17 §3):
/// a local `info` loads neither; a tar source loads libarchive, an HTTP source libcurl. The dynamic loader's own
/// trace (LD_DEBUG=files) says which libraries a run opened.
struct DelayedLibraryTests {
    static func librariesOpened(_ arguments: [String]) throws -> (Harness.Result, String) {
        var environment = ProcessInfo.processInfo.environment
        environment["LD_DEBUG"] = "files"
        let result = try Harness.run(Harness.binary, arguments, environment: environment)
        return (result, result.stderr.split(separator: "\n").filter { $0.contains("file=") }.joined(separator: "\n"))
    }

    @Test func aLocalInfoOpensNeitherLibrary() throws {
        let dir = try TemporaryDirectory()
        try Harness.tool("qemu-img", "create", "-f", "qcow2", dir.file("d.qcow2"), "64M")
        let (result, opened) = try Self.librariesOpened(["info", dir.file("d.qcow2")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!opened.contains("libcurl"), "\(opened)")
        #expect(!opened.contains("libarchive"), "\(opened)")
    }

    @Test func aTarSourceOpensLibarchiveOnly() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("disk"), withIntermediateDirectories: false)
        try Harness.tool("sh", "-c", "head -c 1M /dev/urandom > \(dir.file("disk/disk.img")) && tar -C \(dir.path) -cf \(dir.file("d.tar")) disk")
        let (result, opened) = try Self.librariesOpened(["convert", dir.file("d.tar"), dir.file("out.raw")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(opened.contains("libarchive.so.13"), "\(opened)")
        #expect(!opened.contains("libcurl"), "\(opened)")
        #expect(try Files.identical(dir.file("disk/disk.img"), dir.file("out.raw")))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func anHTTPSourceOpensLibcurl() throws {
        let http = try HTTPFixture()
        let (result, opened) = try Self.librariesOpened(["info", try http.files("private/disk.raw")] + (try http.trust + http.login))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(opened.contains("file=libcurl.so.4"), "\(opened)")
    }
}
