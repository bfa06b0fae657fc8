import Foundation
import Testing

/// What the S3 and GCS tests share: the moto and gcp-storage-emulator fixtures (scripts/fixtures/start-objstore),
/// the flags that reach them, and qemu-img's conversion of the same object as the expected output.
struct ObjectStoreFixture {
    let fixtures: Fixtures
    let directory: TemporaryDirectory

    init() throws {
        fixtures = try Fixtures.get()
        directory = try TemporaryDirectory()
    }

    func s3Endpoint(https: Bool = true, port: Int? = nil) throws -> String {
        if let port { return "\(https ? "https" : "http")://127.0.0.1:\(port)" }
        return https ? "https://127.0.0.1:\(try fixtures["S3_HTTPS_PORT"])" : "http://127.0.0.1:\(try fixtures["S3_HTTP_PORT"])"
    }

    /// --s3-endpoint, the CA and the reader's key files.
    func s3Flags(https: Bool = true, port: Int? = nil) throws -> [String] {
        ["--s3-endpoint", try s3Endpoint(https: https, port: port), "--ca-file", try fixtures["CA_FILE"],
         "--access-key-file", try fixtures["S3_ACCESS_KEY_FILE"], "--secret-key-file", try fixtures["S3_SECRET_KEY_FILE"]]
    }

    func gcsGate(port: Int? = nil) throws -> String { "https://127.0.0.1:\(try port.map(String.init) ?? fixtures["GCS_HTTPS_PORT"])" }
    func gcsEmulator() throws -> String { "http://127.0.0.1:\(try fixtures["GCS_HTTP_PORT"])" }

    /// No fixture credential in what diskimport printed (SecretScan: the S3 keys and tokens, the GCS keys and issued
    /// tokens, and every other credential of the fixtures).
    func expectNoSecrets(_ result: Harness.Result, sourceLocation: SourceLocation = #_sourceLocation) throws {
        SecretScan.expectNone(in: [("standard output", result.stdout), ("standard error", result.stderr)], sourceLocation: sourceLocation)
    }

    /// A fixture file served as an object.
    func local(_ name: String) throws -> String { try fixtures["WWW_DIR"] + "/" + name }

    /// qemu-img's raw conversion of `path` (a qcow2 or raw image, after the wrappers qemu-img cannot read are
    /// removed with their own tools), made once per test.
    func qemuRaw(of path: String) throws -> String {
        var input = path
        let plain = directory.file("plain-" + UUID().uuidString)
        for (suffix, tool) in [(".xz", "xz"), (".gz", "gzip"), (".zst", "zstd")] where path.hasSuffix(suffix) {
            let result = try Harness.run("/bin/sh", ["-c", "\(tool) -dc \"$0\" > \"$1\"", path, plain])
            guard result.status == 0 else { throw HarnessError("\(tool) -dc \(path): \(result.stderr)") }
            input = plain
        }
        let out = directory.file("qemu-" + UUID().uuidString + ".raw")
        let result = try Harness.run("qemu-img", ["convert", "-O", "raw", input, out])
        guard result.status == 0 else { throw HarnessError("qemu-img convert \(input): \(result.stderr)") }
        return out
    }

    func convert(_ source: String, _ arguments: [String], target: String = "out.img", environment: [String: String]? = nil) throws -> Harness.Result {
        try Harness.run(Harness.binary, ["convert", source, directory.file(target)] + arguments, environment: environment)
    }

    /// The conversion succeeded and equals qemu-img's of the object's local copy `local`.
    func expectIdentical(_ result: Harness.Result, toQemuImgOf local: String, target: String = "out.img",
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(try Files.identical(qemuRaw(of: local), directory.file(target)), sourceLocation: sourceLocation)
    }

    /// `status` 64 for a flag's value that no import could use (a key file that is not a key), 1 for the rest.
    func expectFailure(_ result: Harness.Result, containing message: String, target: String = "out.img", status: Int32 = 1,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Harness.expectFailure(result, containing: message, leavingNothingNamed: target, in: directory, status: status,
                                  sourceLocation: sourceLocation)
        try expectNoSecrets(result, sourceLocation: sourceLocation)
    }

    /// JSON lines of a fixture's request log (S3_LOG, GCS_LOG).
    func log(_ key: String) throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: try fixtures[key], encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// A copy of the service account key `key` (a fixtures.env key) whose token_uri carries `?tag=UUID` (after any
    /// query it had), so that this test finds its own tokens in the gate's log; returns the file and the tag.
    func taggedKey(_ key: String) throws -> (file: String, tag: String) {
        let tag = UUID().uuidString
        var account = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try fixtures[key]))) as? [String: Any])
        let uri = try #require(account["token_uri"] as? String)
        account["token_uri"] = uri + (uri.contains("?") ? "&" : "?") + "tag=" + tag
        let file = directory.file("key-\(tag).json")
        try JSONSerialization.data(withJSONObject: account).write(to: URL(fileURLWithPath: file))
        return (file, tag)
    }

    /// The gate's log entries of the tokens issued for `tag`, and of the requests that carried them.
    func gateEntries(tag: String) throws -> (tokens: [[String: Any]], requests: [[String: Any]]) {
        let log = try self.log("GCS_LOG")
        let tokens = log.filter { $0["kind"] as? String == "token" && $0["tag"] as? String == tag }
        let fingerprints = Set(tokens.compactMap { $0["token"] as? String })
        return (tokens, log.filter { $0["kind"] as? String == "request" && ($0["token"] as? String).map(fingerprints.contains) == true })
    }

    /// Stores `bytes` as s3://disks/KEY through the fixture's unsigned control path; returns the key.
    func putS3(_ key: String, contentsOf path: String) throws -> String {
        let result = try Harness.run("curl", ["-sS", "--fail", "-X", "POST", "--data-binary", "@" + path,
                                              "http://127.0.0.1:\(try fixtures["S3_HTTP_PORT"])/_diskimport/put/disks/\(key)"])
        guard result.status == 0 else { throw HarnessError("storing \(key): \(result.stderr)") }
        return key
    }
}
