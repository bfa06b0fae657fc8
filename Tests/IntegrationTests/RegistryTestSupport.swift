import Foundation
import Testing

/// What the registry tests share: references on the fixture registries, the credential flags, the oracle disks
/// (`qemu-img convert -O raw` of the pushed qcow2s), and images built and pushed by a test for itself.
struct RegistryFixture {
    let fixtures: Fixtures
    let directory: TemporaryDirectory

    init() throws {
        fixtures = try Fixtures.get()
        directory = try TemporaryDirectory()
    }

    /// `docker://127.0.0.1:PORT/PATH` on the htpasswd registry.
    func basic(_ path: String) throws -> String { "docker://127.0.0.1:\(try fixtures["REG_BASIC_PORT"])/\(path)" }
    /// `docker://127.0.0.1:PORT/PATH` on the token registry (blobs redirected to the storage host).
    func token(_ path: String) throws -> String { "docker://127.0.0.1:\(try fixtures["REG_TOKEN_PORT"])/\(path)" }

    var trust: [String] { get throws { ["--ca-file", try fixtures["CA_FILE"]] } }
    var login: [String] { get throws { ["--user", try fixtures["REG_USER"], "--password-file", try fixtures["REG_PASSWORD_FILE"]] } }
    var user: String { get throws { try fixtures["REG_USER"] } }
    var password: String { get throws { try fixtures.contents(of: "REG_PASSWORD_FILE") } }

    /// The pushed amd64 and arm64 disks as `qemu-img convert -O raw` writes them, made once per run.
    static let oracles: [String: String] = {
        guard let fixtures = Fixtures.current, let base = fixtures.values["FIXTURES_BASE"], let www = fixtures.values["WWW_DIR"] else { return [:] }
        let directory = base + "/registry-oracles"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var oracles: [String: String] = [:]
        for (arch, qcow2) in [("amd64", www + "/disk.qcow2"), ("arm64", base + "/disk-arm64.qcow2")] {
            let raw = "\(directory)/\(arch)-\(ProcessInfo.processInfo.processIdentifier).raw"
            if (try? Harness.tool("qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow2, raw)) != nil { oracles[arch] = raw }
        }
        return oracles
    }()

    func oracle(_ arch: String) throws -> String {
        guard let path = Self.oracles[arch] else { throw HarnessError("qemu-img convert of the \(arch) disk failed") }
        return path
    }

    /// Runs `diskimport convert SOURCE TARGET ARGS...` with the target in the test's directory.
    func convert(_ source: String, _ arguments: [String], target: String = "out.img") throws -> Harness.Result {
        try Harness.run(Harness.binary, ["convert", source, directory.file(target)] + arguments)
    }

    /// The import succeeded and the target equals qemu-img's raw conversion of the `arch` disk.
    func expectIdentical(_ result: Harness.Result, arch: String = "amd64", target: String = "out.img",
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(try Files.identical(oracle(arch), directory.file(target)), sourceLocation: sourceLocation)
    }

    /// The import failed with one error line containing `message`, and left nothing named like the target.
    func expectFailure(_ result: Harness.Result, containing message: String, target: String = "out.img",
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Harness.expectFailure(result, containing: message, leavingNothingNamed: target, in: directory,
                                  sourceLocation: sourceLocation)
    }

    /// Neither the password, nor its Basic-auth form, nor a token (the fixture issues JWTs: "eyJ…") appears in the output.
    func expectNoCredentials(_ result: Harness.Result, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let basic = Data("\(try user):\(try password)".utf8).base64EncodedString()
        for secret in [try password, basic, "eyJ"] {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "a credential was printed: \(secret.prefix(3))…",
                    sourceLocation: sourceLocation)
        }
    }

    /// A tar in the test's directory holding `entries` (path → content; a path ending in "/" is a directory),
    /// written by GNU tar in the order given.
    func tar(_ name: String, _ entries: [(String, Data?)]) throws -> String {
        let root = directory.file(name + ".d")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for (path, content) in entries {
            let full = root + "/" + path
            if let content {
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try content.write(to: URL(fileURLWithPath: full))
            } else {
                try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
            }
        }
        let tar = directory.file(name + ".tar")
        try Harness.tool("tar", ["-C", root, "--no-recursion", "--format=pax", "-cf", tar] + entries.map(\.0))
        return tar
    }

    /// Builds an OCI image from `layers` (tar path, compression) with scripts/fixtures/build-image-layout and
    /// pushes it to the htpasswd registry as `containerdisks/NAME:latest`; returns the reference and the
    /// layers' digests. Each test pushes under its own name, so tests that tamper with blobs touch only theirs.
    func push(_ name: String, layers: [(String, String)]) throws -> (reference: String, layers: [String]) {
        let layout = directory.file(name + "-layout")
        let built = try Harness.tool(Self.scripts + "/build-image-layout", [layout] + layers.map { "\($0.0):\($0.1)" })
        let json = try JSONSerialization.jsonObject(with: Data(built.stdout.utf8)) as? [String: Any]
        let digests = json?["layers"] as? [String] ?? []
        let reference = try basic("containerdisks/\(name):latest")
        try Harness.tool("skopeo", "copy", "-q", "--preserve-digests", "--dest-cert-dir", try fixtures["CERT_DIR"],
                         "--dest-authfile", try fixtures["FIXTURES_BASE"] + "/secrets/auth.json", "oci:\(layout):latest", reference)
        return (reference, digests)
    }

    /// Where the registries keep blob `digest` (both serve the same storage directory).
    func blobFile(_ digest: String) throws -> String {
        let hex = String(digest.dropFirst("sha256:".count))
        return try fixtures["FIXTURES_BASE"] + "/regdata/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/fixtures").path
}

extension Harness {
    /// Runs a helper program with an argument array; it must succeed.
    @discardableResult
    static func tool(_ executable: String, _ arguments: [String]) throws -> Result {
        let result = try run(executable, arguments)
        if result.status != 0 {
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
        return result
    }
}
