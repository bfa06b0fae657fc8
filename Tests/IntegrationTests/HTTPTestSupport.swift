import Foundation
import Testing

/// What the HTTP tests share: URLs on the fixture servers, the credential flags, and checks on the target.
struct HTTPFixture {
    let fixtures: Fixtures
    let directory: TemporaryDirectory

    init() throws {
        fixtures = try Fixtures.get()
        directory = try TemporaryDirectory()
    }

    func files(_ path: String, port: String? = nil) throws -> String {
        "https://127.0.0.1:\(try port ?? fixtures["FILES_PORT"])/\(path)"
    }

    var trust: [String] { get throws { ["--ca-file", try fixtures["CA_FILE"]] } }

    var login: [String] {
        get throws { ["--user", try fixtures["FILES_USER"], "--password-file", try fixtures["FILES_PASSWORD_FILE"]] }
    }

    var password: String { get throws { try fixtures.contents(of: "FILES_PASSWORD_FILE") } }

    var diskRaw: String { get throws { try fixtures["DISK_RAW"] } }

    /// Runs `diskimport convert SOURCE TARGET ARGS...` (target in the test's directory) and returns the result.
    func convert(_ source: String, _ arguments: [String], target: String = "out.img",
                 environment: [String: String]? = nil) throws -> Harness.Result {
        try Harness.run(Harness.binary, ["convert", source, directory.file(target)] + arguments, environment: environment)
    }

    /// The target matches the fixture's raw disk byte for byte.
    func expectIdentical(_ result: Harness.Result, target: String = "out.img", sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(try Files.identical(diskRaw, directory.file(target)), sourceLocation: sourceLocation)
    }

    /// The import failed with one line on stderr containing `message`, and left nothing that looks like a target.
    func expectFailure(_ result: Harness.Result, containing message: String, target: String = "out.img", status: Int32 = 1,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Harness.expectFailure(result, containing: message, leavingNothingNamed: target, in: directory, status: status,
                                  sourceLocation: sourceLocation)
    }

    /// Neither the password nor the Basic-auth token appears in the output.
    func expectNoCredentials(_ result: Harness.Result, user: String, password: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let token = Data("\(user):\(password)".utf8).base64EncodedString()
        for secret in [password, token] {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "a credential was printed", sourceLocation: sourceLocation)
        }
    }

    /// A copy of the raw disk under the served scratch directory, for tests that change the file on the server.
    func servedCopy(_ name: String) throws -> (url: String, path: String) { try served(try diskRaw, as: name) }

    /// A copy of `file` under the served scratch directory (no login, ranges served), named to end in `name`.
    func served(_ file: String, as name: String) throws -> (url: String, path: String) {
        let path = try fixtures["SCRATCH_WWW_DIR"] + "/" + UUID().uuidString + "-" + name
        try FileManager.default.copyItem(atPath: file, toPath: path)
        return (try files("scratch/" + (path as NSString).lastPathComponent), path)
    }
}
