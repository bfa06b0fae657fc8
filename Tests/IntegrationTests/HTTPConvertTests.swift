import Foundation
import Testing

/// `diskimport convert https://…` against nginx on loopback (scripts/fixtures): TLS with a private CA, Basic auth,
/// redirects, proxies, headers, checksums — checked byte for byte against the served disk.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct HTTPConvertTests {
    @Test(arguments: ["disk.raw", "disk.raw.gz", "disk.raw.xz", "disk.raw.blocks.xz"])
    func httpsWithBasicAuthAndCustomCAIsByteIdentical(file: String) throws {
        let http = try HTTPFixture()
        try http.expectIdentical(try http.convert(try http.files("private/" + file), try http.trust + http.login))
    }

    @Test func certDirTrustsEveryCertificateInIt() throws {
        let http = try HTTPFixture()
        let result = try http.convert(try http.files("private/disk.raw"), ["--cert-dir", try http.fixtures["CERT_DIR"]] + http.login)
        try http.expectIdentical(result)
    }

    @Test func plainHTTP() throws {
        let http = try HTTPFixture()
        let result = try http.convert("http://127.0.0.1:\(try http.fixtures["HTTP_PORT"])/disk.raw", [])
        try http.expectIdentical(result)
    }

    @Test func anUntrustedCertificateIsAClearTLSError() throws {
        let http = try HTTPFixture()
        let host = "127.0.0.1:\(try http.fixtures["FILES_PORT"])"
        for trust in [[], ["--ca-file", try http.fixtures["OTHER_CA_FILE"]]] {
            let result = try http.convert(try http.files("private/disk.raw"), trust + http.login)
            try http.expectFailure(result, containing: "TLS certificate verification failed for \(host)")
        }
    }

    @Test func insecureSkipsVerificationLoudly() throws {
        let http = try HTTPFixture()
        let result = try http.convert(try http.files("disk.raw"), ["--insecure"])
        try http.expectIdentical(result)
        #expect(result.stderr.contains("warning: TLS certificate verification is disabled"))
    }

    @Test func aWrongPasswordIsAClear401() throws {
        let http = try HTTPFixture()
        let wrong = http.directory.file("wrong-password")
        try "not-the-password\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let url = try http.files("private/disk.raw")
        let result = try http.convert(url, try http.trust + ["--user", try http.fixtures["FILES_USER"], "--password-file", wrong])
        try http.expectFailure(result, containing: "authentication failed (401) for \(url)")
        let anonymous = try http.convert(url, try http.trust)
        try http.expectFailure(anonymous, containing: "authentication failed (401)")
    }

    @Test func aMissingFileIsNotFound() throws {
        let http = try HTTPFixture()
        let result = try http.convert(try http.files("private/no-such.raw"), try http.trust + http.login)
        try http.expectFailure(result, containing: "not found (404)")
    }

    @Test func aPasswordIsNeverTakenOnTheCommandLine() throws {
        let http = try HTTPFixture()
        let result = try http.convert(try http.files("private/disk.raw"), try http.trust + ["--user", "webuser"])
        try http.expectFailure(result, containing: "--user needs --password-file", status: 64)
    }

    @Test func aSameHostRedirectKeepsTheCredentials() throws {
        let http = try HTTPFixture()
        try http.expectIdentical(try http.convert(try http.files("private/redirect-same-host"), try http.trust + http.login))
    }

    /// The storage host answers 400 to any request carrying Authorization: success proves nothing leaked.
    @Test func aRedirectToAnotherHostDropsTheCredentials() throws {
        let http = try HTTPFixture()
        try http.expectIdentical(try http.convert(try http.files("private/redirect-other-host"), try http.trust + http.login))
        let leaked = try Harness.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", try http.fixtures["CA_FILE"],
            "-H", "Authorization: Basic eDp5", "https://localhost:\(try http.fixtures["STORAGE_PORT"])/files/disk.raw"])
        #expect(leaked.stdout == "400", "the storage host must refuse credentials for this test to mean anything")
    }

    /// Credentials stay behind on a redirect to the same host on another port (https to https) or another scheme
    /// and port (https to http): both targets answer 400 to any Authorization header.
    @Test(arguments: ["redirect-other-port", "redirect-other-scheme"])
    func aRedirectToAnotherPortOrSchemeDropsTheCredentials(location: String) throws {
        let http = try HTTPFixture()
        let result = try http.convert(try http.files("private/" + location), try http.trust + http.login + ["-v"])
        try http.expectIdentical(result)
        http.expectNoCredentials(result, user: try http.fixtures["FILES_USER"], password: try http.password)
        let leaked = try Harness.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Basic eDp5",
                                              "http://127.0.0.1:\(try http.fixtures["HTTP_PORT"])/no-credentials/disk.raw"])
        #expect(leaked.stdout == "400", "the plain HTTP target must refuse credentials for this test to mean anything")
    }

    /// `--header` repeats: the location answers 403 unless both headers arrive.
    @Test func everyExtraHeaderIsSent() throws {
        let http = try HTTPFixture()
        let url = try http.files("needs-two-headers/disk.raw.gz")
        try http.expectIdentical(try http.convert(url, try http.trust + ["--header", "X-Diskimport-Test: yes", "--header", "X-Diskimport-Second: 2"]))
        let one = try http.convert(url, try http.trust + ["--header", "X-Diskimport-Test: yes"], target: "one.img")
        try http.expectFailure(one, containing: "authentication failed (403)", target: "one.img")
    }

    @Test func extraHeadersAreSent() throws {
        let http = try HTTPFixture()
        try http.expectIdentical(try http.convert(try http.files("needs-header/disk.raw"), try http.trust + ["--header", "X-Diskimport-Test: yes"]))
        let without = try http.convert(try http.files("needs-header/disk.raw"), try http.trust, target: "without.img")
        try http.expectFailure(without, containing: "authentication failed (403)", target: "without.img")
        let malformed = try http.convert(try http.files("disk.raw"), try http.trust + ["--header", "no colon here"], target: "malformed.img")
        try http.expectFailure(malformed, containing: "is not of the form 'Name: value'", target: "malformed.img", status: 64)
    }

    @Test func proxiesComeFromTheFlagOrTheEnvironment() throws {
        let http = try HTTPFixture()
        let url = try http.files("private/disk.raw")
        let target = "127.0.0.1:\(try http.fixtures["FILES_PORT"])"
        var environment = ProcessInfo.processInfo.environment
        for key in ["http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"] { environment[key] = nil }

        let flagged = try FaultProxy(http.fixtures, ["--forward-proxy"])
        try http.expectIdentical(try http.convert(url, try http.trust + http.login + ["--proxy", "http://127.0.0.1:\(flagged.port)"], environment: environment))
        // Two connections: the download and the ranged read of the raw image's last sector (the DMG check).
        #expect(flagged.connections.map { $0["target"] as? String } == [target, target])

        let fromEnvironment = try FaultProxy(http.fixtures, ["--forward-proxy"])
        environment["https_proxy"] = "http://127.0.0.1:\(fromEnvironment.port)"
        try http.expectIdentical(try http.convert(url, try http.trust + http.login, environment: environment))
        #expect(fromEnvironment.connections.map { $0["method"] as? String } == ["CONNECT", "CONNECT"])

        environment["no_proxy"] = "127.0.0.1"
        try http.expectIdentical(try http.convert(url, try http.trust + http.login, environment: environment))
        #expect(fromEnvironment.connections.count == 2, "no_proxy must bypass the proxy")
    }

    @Test(arguments: ["sha256", "md5", "sha1", "sha512"])
    func aMatchingChecksumPasses(algorithm: String) throws {
        let http = try HTTPFixture()
        let served = try http.fixtures["WWW_DIR"] + "/disk.raw.gz"
        let digest = try Harness.tool("\(algorithm)sum", served).stdout.prefix(while: { $0 != " " })
        let result = try http.convert(try http.files("disk.raw.gz"), try http.trust + ["--checksum", "\(algorithm):\(digest)"])
        try http.expectIdentical(result)
    }

    @Test func aChecksumMismatchFailsAndLeavesNoTarget() throws {
        let http = try HTTPFixture()
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        let result = try http.convert(try http.files("disk.raw.gz"), try http.trust + ["--checksum", wrong])
        try http.expectFailure(result, containing: "checksum mismatch: expected \(wrong), got sha256:")
        let malformed = try http.convert(try http.files("disk.raw"), try http.trust + ["--checksum", "sha256:abc"], target: "malformed.img")
        try http.expectFailure(malformed, containing: "a sha256 digest is 64 hex digits", target: "malformed.img", status: 64)
    }

    /// Every path that prints (verbose logs, resume notices, errors) with the credentials in play.
    @Test func credentialsNeverAppearInAnyOutput() throws {
        let http = try HTTPFixture()
        let user = try http.fixtures["FILES_USER"], password = try http.password
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"], ["--cut-after", "700000", "--cuts", "2"])
        let runs = [
            try http.convert(try http.files("private/disk.raw", port: String(proxy.port)), try http.trust + http.login + ["-v", "--json"]),
            try http.convert(try http.files("private/redirect-other-host"), try http.trust + http.login + ["-v"]),
            try http.convert(try http.files("private/no-such.raw"), try http.trust + http.login + ["-v"]),
            try http.convert(try http.files("private/disk.raw"), http.login + ["-v"]),
            try http.convert("https://\(user):\(password)@127.0.0.1:\(try http.fixtures["FILES_PORT"])/private/no-such.raw", try http.trust + ["-v"]),
        ]
        #expect(runs[0].status == 0 && runs[1].status == 0, "\(runs[0].stderr) \(runs[1].stderr)")
        for run in runs { http.expectNoCredentials(run, user: user, password: password) }
    }
}

/// qcow2 over HTTPS: streamed (plain and compressed), by ranged random access, and resumed after cuts.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct HTTPQcow2Tests {
    @Test(arguments: [("disk.qcow2", []), ("disk.qcow2.gz", []), ("disk.qcow2", ["--http-random-access"])])
    func qcow2OverHTTPSMatchesTheRawDisk(file: String, mode: [String]) throws {
        let http = try HTTPFixture()
        let result = try http.convert(try http.files("private/" + file), try http.trust + http.login + mode + ["--json"])
        try http.expectIdentical(result)
        #expect(result.stdout.contains("\"qcow2\""))
    }

    @Test(arguments: [[], ["--http-random-access"]])
    func qcow2SurvivesThreeCuts(mode: [String]) throws {
        let http = try HTTPFixture()
        let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"], ["--cut-after", "700000", "--cuts", "3"])
        let result = try http.convert(try http.files("private/disk.qcow2", port: String(proxy.port)), try http.trust + http.login + mode)
        try http.expectIdentical(result)
        #expect(proxy.connections.filter { $0["fault"] as? String == "cut" }.count == 3)
    }

    @Test func aChecksumOverAQcow2ReadsEveryByte() throws {
        let http = try HTTPFixture()
        let served = try http.fixtures["WWW_DIR"] + "/disk.qcow2"
        let digest = try Harness.tool("sha256sum", served).stdout.prefix(while: { $0 != " " })
        let result = try http.convert(try http.files("disk.qcow2"), try http.trust + ["--checksum", "sha256:\(digest)", "--http-random-access"])
        try http.expectIdentical(result)
    }
}
