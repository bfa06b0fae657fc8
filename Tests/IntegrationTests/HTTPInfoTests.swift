import Foundation
import Testing

/// `diskimport info http(s)://…` against the loopback nginx. The oracle is qemu-img's own curl driver on the plain
/// HTTP port (it cannot be given the fixtures' CA), and qemu-img info of the local file for the wrapped images.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason)) struct HTTPInfoTests {
    func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    func plain(_ fixtures: Fixtures, _ path: String) throws -> String { "http://127.0.0.1:\(try fixtures["HTTP_PORT"])/\(path)" }

    /// Every key qemu-img info reports for the URL has the same value in ours.
    func expectSameKeys(_ ours: [String: Any], _ qemu: [String: Any], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for (key, value) in qemu {
            #expect(ours[key].map { NSDictionary(dictionary: [key: $0]) == NSDictionary(dictionary: [key: value]) } == true,
                    "\(what): \(key) is \(String(describing: ours[key])), qemu-img says \(value)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: ["disk.qcow2", "disk.raw"])
    func plainImagesMatchQemuImgOverHTTP(file: String) throws {
        let fixtures = try Fixtures.get()
        let url = try plain(fixtures, file)
        let human = try Harness.diskimport("info", url)
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout == (try Harness.tool("qemu-img", "info", url).stdout))
        let ours = try object(try Harness.diskimport("info", url, "--output", "json").stdout)
        expectSameKeys(ours, try object(try Harness.tool("qemu-img", "info", "--output", "json", url).stdout), file)
        #expect(ours["layers"] as? [String] == [String(file.dropFirst("disk.".count))])
    }

    /// Wrapped images over HTTPS with basic auth and the CA: the layer stack, and the qcow2 header as qemu-img reads
    /// it from the local file; raw under compression has no size until decompressed.
    @Test(arguments: ["disk.qcow2.gz", "disk.qcow2.xz", "disk.qcow2.zst", "disk.raw.xz"])
    func wrappedImagesOverHTTPSWithBasicAuth(file: String) throws {
        let http = try HTTPFixture()
        let url = try http.files("private/" + file)
        let result = try Harness.run(Harness.binary, ["info", url, "--output", "json", "-v"] + http.trust + http.login)
        #expect(result.status == 0, "\(result.stderr)")
        http.expectNoCredentials(result, user: try http.fixtures["FILES_USER"], password: try http.password)
        let ours = try object(result.stdout)
        let parts = file.split(separator: ".").map(String.init)   // disk, format, compression
        let compression = ["gz": "gzip", "xz": "xz", "zst": "zstd"][parts[2]] ?? "?"
        #expect(ours["layers"] as? [String] == [compression, parts[1]])
        #expect(ours["filename"] as? String == url)
        #expect(ours["actual-size"] == nil)
        if parts[1] == "qcow2" {
            var qemu = try object(try Harness.tool("qemu-img", "info", "--output", "json", try http.fixtures["WWW_DIR"] + "/disk.qcow2").stdout)
            qemu["filename"] = nil
            qemu["actual-size"] = nil
            expectSameKeys(ours, qemu, file)
        } else {
            // nginx serves ranges: the size of raw inside xz comes from the xz index at the end of the file.
            let raw = try FileManager.default.attributesOfItem(atPath: try http.fixtures["WWW_DIR"] + "/disk.raw")[.size] as? Int
            #expect(ours["virtual-size"] as? Int == raw)
            #expect(ours["format"] as? String == "raw")
        }
    }

    /// info reads only the head: through a proxy that stalls every connection after 160 KiB from the server (TLS
    /// handshake included), it still answers, and without waiting for the stall timeout (dropping the stream
    /// cancels an idle transfer at once).
    @Test(arguments: ["disk.qcow2", "disk.qcow2.gz", "disk.qcow2.xz", "disk.qcow2.zst"])
    func onlyTheHeadIsRead(file: String) throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"], ["--stall-after", "163840", "--stalls", "100"])
        let started = Date()
        let result = try Harness.run(Harness.binary, ["info", try http.files(file, port: String(proxy.port)), "--stall-timeout", "20",
                                                       "--retries", "0"] + http.trust)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("virtual size: 4.06 MiB (4259840 bytes)"), "\(result.stdout)")
        #expect(Date().timeIntervalSince(started) < 10)
    }

    /// A backing file is described (info only reads) and resolved against the URL as qemu-img resolves it.
    @Test func aBackingFileIsResolvedAgainstTheURL() throws {
        let fixtures = try Fixtures.get()
        let served = try fixtures["SCRATCH_WWW_DIR"]
        let name = "overlay-\(UUID().uuidString).qcow2"
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", "../disk.qcow2", "-u", served + "/" + name, "4259840")
        defer { try? FileManager.default.removeItem(atPath: served + "/" + name) }
        let url = try plain(fixtures, "scratch/" + name)
        let ours = try object(try Harness.diskimport("info", url, "--output", "json").stdout)
        expectSameKeys(ours, try object(try Harness.tool("qemu-img", "info", "--output", "json", url).stdout), name)
        #expect(ours["full-backing-filename"] as? String == (try plain(fixtures, "scratch/../disk.qcow2")))
    }

    @Test func aWrongPasswordIsAOneLine401() throws {
        let http = try HTTPFixture()
        let wrong = http.directory.file("wrong")
        try "not-the-password".write(toFile: wrong, atomically: true, encoding: .utf8)
        let result = try Harness.run(Harness.binary, ["info", try http.files("private/disk.qcow2.xz"), "--user", "webuser",
                                                       "--password-file", wrong] + http.trust)
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("401"), "\(result.stderr)")
        #expect(!result.stderr.contains("not-the-password"))
    }
}
