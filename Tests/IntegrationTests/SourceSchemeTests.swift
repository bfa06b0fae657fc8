import Foundation
import Testing

/// A URL whose scheme diskimport does not read is named as such, with the ones it reads; schemes match in any case.
@Suite struct SourceSchemeTests {
    @Test(arguments: ["s3://bucket/disk.img", "ftp://host/disk.img", "htp://host/disk.img", "FTP://user:secret@host/x"])
    func anUnknownSchemeIsNamed(_ source: String) throws {
        let dir = try TemporaryDirectory()
        let scheme = source.prefix { $0 != ":" }.lowercased()
        for arguments in [["convert", source, dir.file("out.img")], ["info", source]] {
            let result = try Harness.run(Harness.binary, arguments)
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(scheme):// sources are not supported: diskimport reads a local path, - (standard input), http://, https://, docker://"),
                    "\(result.stderr)")
            #expect(!result.stderr.contains("No such file"))
            #expect(!result.stderr.contains("secret"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }

    @Test func aFileURLInCapitalsIsAFile() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: raw))
        let result = try Harness.diskimport("convert", "FILE://" + raw, dir.file("out.img"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(raw, dir.file("out.img")))
    }
}

@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct HTTPSchemeAndPageTests {
    @Test func anHTTPSURLInCapitalsIsFetched() throws {
        let http = try HTTPFixture()
        let url = try http.files("disk.raw")
        try http.expectIdentical(try http.convert("HTTPS" + url.dropFirst("https".count), try http.trust))
    }

    @Test(arguments: ["<!DOCTYPE html>\n<html><body>Index of /</body></html>\n", "  <HTML>\n<title>404</title></HTML>",
                      "\u{FEFF}<!-- a comment --><p>hi</p>"])
    func anHTMLPageIsRefusedWithItsStatusAndType(_ page: String) throws {
        let http = try HTTPFixture()
        let file = http.directory.file("page.html")
        try page.write(toFile: file, atomically: true, encoding: .utf8)
        let served = try http.served(file, as: "index.html")
        let result = try http.convert(served.url, try http.trust)
        try http.expectFailure(result, containing: "the server answered 200 with Content-Type text/html and an HTML page, not a disk image")
        let info = try Harness.run(Harness.binary, ["info", served.url] + (try http.trust))
        #expect(info.status == 1)
        #expect(info.stderr.contains("an HTML page, not a disk image"), "\(info.stderr)")
    }

    @Test func aDiskServedAsHTMLIsStillADisk() throws {
        let http = try HTTPFixture()
        let served = try http.served(try http.diskRaw, as: "disk.html")
        try http.expectIdentical(try http.convert(served.url, try http.trust))
    }
}
