import Foundation
import Testing

/// A plain-HTTP registry on loopback (the fixtures' registry-plain, serving the same images anonymously), the
/// registry's answers when a repository or a platform is missing, and what `--json` counts as read.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct RegistryPlainHTTPTests {
    private func plain(_ registry: RegistryFixture, _ path: String) throws -> String {
        "docker://127.0.0.1:\(try registry.fixtures["REG_PLAIN_PORT"])/\(path)"
    }

    /// Without --insecure, https to a plain-HTTP port is refused, and the message says that is what happened.
    @Test func aPlainHTTPRegistryIsRefusedSayingWhy() throws {
        let registry = try RegistryFixture()
        let result = try registry.convert(try plain(registry, "containerdisks/test:latest"), [])
        try registry.expectFailure(result, containing: "the server answered in plain HTTP, not TLS")
        #expect(result.stderr.contains("--insecure"), "\(result.stderr)")
    }

    /// With verification off, the https ping fails and http is tried, as containers/image does for CDI; said loudly.
    @Test(arguments: ["test:latest", "test:docker-v2s2", "zstd:latest"])
    func insecureFallsBackToPlainHTTP(image: String) throws {
        let registry = try RegistryFixture()
        let result = try registry.convert(try plain(registry, "containerdisks/\(image)"), ["--insecure"])
        try registry.expectIdentical(result)
        #expect(result.stderr.contains("does not speak https (it answers in plain HTTP): pulling over plain http"), "\(result.stderr)")
    }

    /// A TLS registry stays on https under --insecure (the fallback is only for a failed https ping).
    @Test func insecureKeepsHTTPSWhereItWorks() throws {
        let registry = try RegistryFixture()
        let result = try registry.convert(try registry.basic("containerdisks/test:latest"), try registry.login + ["--insecure"])
        try registry.expectIdentical(result)
        #expect(!result.stderr.contains("plain http"), "\(result.stderr)")
    }

    @Test func thePodsInsecureTLSFallsBackToo() throws {
        let registry = try RegistryFixture()
        let pod = try PodWorld()
        var env = try PodRegistryTests.environment(registry, endpoint: try plain(registry, "containerdisks/test:latest"))
        env["IMPORTER_CERT_DIR"] = nil
        env["IMPORTER_ACCESS_KEY_ID"] = nil
        env["IMPORTER_SECRET_KEY"] = nil
        let refused = try pod.run(env)
        #expect(refused.status == 1)
        #expect(refused.termination?.contains("plain HTTP, not TLS") == true, "\(refused.termination ?? "")")
        env["INSECURE_TLS"] = "true"
        let outcome = try pod.run(env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == PodRegistryTests.complete)
        try PodRegistryTests.expectDisk(pod, registry, arch: "amd64")
    }

    /// The registry says MANIFEST_UNKNOWN for a tag of a repository that does not exist too.
    @Test func aMissingRepositoryIsNamedAsSuch() throws {
        let registry = try RegistryFixture()
        let noRepository = try registry.convert(try registry.basic("containerdisks/nothing-here:latest"), try registry.trust + registry.login)
        try registry.expectFailure(noRepository, containing: "(no repository containerdisks/nothing-here on 127.0.0.1:")
        let noTag = try registry.convert(try registry.basic("containerdisks/test:no-such-tag"), try registry.trust + registry.login)
        try registry.expectFailure(noTag, containing: "(the repository has no tag no-such-tag; its tags include ")
        #expect(noTag.stderr.contains("latest"), "\(noTag.stderr)")
        let tokenRepository = try registry.convert(try registry.token("public/nothing-here:latest"), try registry.trust)
        try registry.expectFailure(tokenRepository, containing: "(no repository public/nothing-here on 127.0.0.1:")
    }

    /// An --arch that a single-platform image does not offer is refused naming the one it does, as for an index.
    @Test func anArchitectureASinglePlatformImageLacksIsRefused() throws {
        let registry = try RegistryFixture()
        let single = try registry.convert(try registry.basic("containerdisks/test:amd64"), try registry.trust + registry.login + ["--arch", "sparc64"])
        try registry.expectFailure(single, containing: "has no image for linux/sparc64 (it has linux/amd64 only")
        let index = try registry.convert(try registry.basic("containerdisks/test:latest"), try registry.trust + registry.login + ["--arch", "sparc64"])
        try registry.expectFailure(index, containing: "has no image for linux/sparc64 (it has linux/arm64/v8, linux/amd64")
        // The platform it has, asked for by name, and no --arch at all, both import.
        try registry.expectIdentical(try registry.convert(try registry.basic("containerdisks/test:amd64"),
                                                          try registry.trust + registry.login + ["--arch", "amd64"]))
    }

    /// bytes-read is what came from the registry as stored: the gzip blob, not the qcow2 inside it.
    @Test(arguments: [("test:amd64", "gzip"), ("plain:latest", "none")])
    func jsonBytesReadCountsTheBlobAsStored(image: String, compression: String) throws {
        let registry = try RegistryFixture()
        let result = try registry.convert(try registry.basic("containerdisks/\(image)"), try registry.trust + registry.login + ["--json"])
        try registry.expectIdentical(result)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        // The amd64 manifest of the OCI layout the fixtures pushed: its one layer's size is the blob's.
        let layout = try registry.fixtures["FIXTURES_BASE"] + "/layout-\(compression)"
        let digest = try #require(try String(contentsOfFile: layout + ".digests", encoding: .utf8)
            .split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("amd64=sha256:") }?.dropFirst("amd64=sha256:".count))
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(digest)")))
            as? [String: Any])
        let layers = try #require(manifest["layers"] as? [[String: Any]])
        let stored = layers.compactMap { $0["size"] as? Int }.reduce(0, +)
        #expect(summary["bytes-read"] as? Int == stored, "\(summary)")
        #expect(layers.count == 1)
    }
}
