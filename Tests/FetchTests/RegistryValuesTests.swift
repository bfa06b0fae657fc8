import DiskImportCore
import Foundation
import Testing
@testable import Fetch

@Suite struct RegistryReferenceTests {
    static let hex = String(repeating: "ab", count: 32)

    @Test(arguments: [
        // text, registry, repository, tag, digest hex
        ("docker://127.0.0.1:5000/containerdisks/fedora:41", "127.0.0.1:5000", "containerdisks/fedora", "41", nil),
        ("127.0.0.1:5000/containerdisks/fedora", "127.0.0.1:5000", "containerdisks/fedora", "latest", nil),
        ("quay.io/containerdisks/fedora@sha256:\(hex)", "quay.io", "containerdisks/fedora", nil, hex),
        ("quay.io/a/b:tag@sha256:\(hex)", "quay.io", "a/b", "tag", hex),
        ("localhost/disk", "localhost", "disk", "latest", nil),
        ("localhost:5000/a/b/c:v1.2-rc_3", "localhost:5000", "a/b/c", "v1.2-rc_3", nil),
        ("[::1]:5000/disk:1", "[::1]:5000", "disk", "1", nil),
        ("fedora", "docker.io", "library/fedora", "latest", nil),
        ("fedora:41", "docker.io", "library/fedora", "41", nil),
        ("kubevirt/fedora-cloud-container-disk-demo", "docker.io", "kubevirt/fedora-cloud-container-disk-demo", "latest", nil),
        ("docker.io/library/alpine:3", "docker.io", "library/alpine", "3", nil),
        ("registry.example.com/a__b/c.d/e---f", "registry.example.com", "a__b/c.d/e---f", "latest", nil),
    ] as [(String, String, String, String?, String?)])
    func parses(text: String, registry: String, repository: String, tag: String?, digest: String?) throws {
        let reference = try RegistryReference(parsing: text)
        #expect(reference.registry == registry)
        #expect(reference.repository == repository)
        #expect(reference.tag == tag)
        #expect(reference.digest?.hex == digest)
    }

    @Test func dockerHubIsReachedAtItsAPIHost() throws {
        #expect(try RegistryReference(parsing: "fedora").apiHost == "registry-1.docker.io")
        #expect(try RegistryReference(parsing: "quay.io/a/b").apiHost == "quay.io")
    }

    @Test func digestWinsOverTag() throws {
        let reference = try RegistryReference(parsing: "quay.io/a/b:tag@sha256:\(Self.hex)")
        #expect(reference.manifestReference == "sha256:\(Self.hex)")
        #expect(reference.description == "docker://quay.io/a/b:tag@sha256:\(Self.hex)")
        #expect(try RegistryReference(parsing: "quay.io/a/b").manifestReference == "latest")
    }

    @Test(arguments: [
        "", "docker://", "Quay.io/UPPER/case", "host:5000/repo:", "host/repo@sha256:abc", "host/repo@md5:\(hex)",
        "host/-repo", "host/repo_", "host/a//b", "host:99999/repo", "host:/repo", "host/repo:bad!tag", "host/re po",
        "host/a...b", "[::1/repo", "host/" + String(repeating: "a", count: 300), "host/repo:" + String(repeating: "t", count: 129),
    ])
    func rejects(text: String) {
        #expect(throws: DiskImportError.self) { try RegistryReference(parsing: text) }
    }

    @Test func errorsAreUsageErrorsNamingTheReference() {
        #expect { try RegistryReference(parsing: "host/Bad") } throws: { error in
            let error = error as? DiskImportError
            return error?.kind == .usage && error?.message.contains("docker://host/Bad") == true
        }
    }
}

@Suite struct RegistryChallengeTests {
    @Test func bearerWithQuotedCommas() {
        let header = #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
        let challenges = RegistryChallenge.parse(header)
        #expect(challenges.count == 1)
        #expect(challenges.first?.scheme == "bearer")
        #expect(challenges.first?.realm == "https://auth.example/token")
        #expect(challenges.first?.service == "registry.example")
        #expect(challenges.first?.scope == "repository:a/b:pull,push")
    }

    @Test func caseSpacesEscapesAndErrors() {
        let header = #"BEARER Realm = "https://a/t?x=1" , Error="invalid_token", error_description="the \"token\" expired""#
        let challenge = RegistryChallenge.parse(header).first
        #expect(challenge?.scheme == "bearer")
        #expect(challenge?.realm == "https://a/t?x=1")
        #expect(challenge?.error == "invalid_token")
        #expect(challenge?.parameters["error_description"] == #"the "token" expired"#)
    }

    @Test func severalChallengesInOneValue() {
        let challenges = RegistryChallenge.parse(#"Basic realm="r1", Bearer realm="https://t/token",service=s"#)
        #expect(challenges.map(\.scheme) == ["basic", "bearer"])
        #expect(challenges.last?.service == "s")
        #expect(challenges.first?.realm == "r1")
    }

    @Test(arguments: ["", "   ", "Bearer realm=\"unterminated", "="])
    func malformedHeadersDoNotCrash(header: String) {
        let challenges = RegistryChallenge.parse(header)
        #expect(challenges.allSatisfy { $0.realm == nil })
    }

    @Test func modeFromHead() throws {
        let bearer = HTTPResponseHead(status: 401, headers: [("www-authenticate", #"Basic realm="x""#),
                                                             ("www-authenticate", #"Bearer realm="https://t/token",service="s""#)])
        #expect(try RegistryAuthenticator.mode(from: bearer, registry: "r") == .bearer(realm: "https://t/token", service: "s"))
        let basic = HTTPResponseHead(status: 401, headers: [("www-authenticate", #"Basic realm="x""#)])
        #expect(try RegistryAuthenticator.mode(from: basic, registry: "r") == .basic)
        #expect(throws: DiskImportError.self) {
            try RegistryAuthenticator.mode(from: HTTPResponseHead(status: 401, headers: [("www-authenticate", "Negotiate")]), registry: "r")
        }
        #expect(throws: DiskImportError.self) {
            try RegistryAuthenticator.mode(from: HTTPResponseHead(status: 401, headers: [("www-authenticate", "Bearer service=x")]), registry: "r")
        }
    }

    @Test func formEncoding() {
        #expect(RegistryAuthenticator.formEncoded("repository:a/b:pull") == "repository%3Aa%2Fb%3Apull")
        #expect(RegistryAuthenticator.formEncoded("A-z_0.9~") == "A-z_0.9~")
    }
}

@Suite struct RegistryPlatformTests {
    static func index(_ platforms: [(String, String?)]) -> [RegistryDescriptor] {
        platforms.enumerated().map { i, platform in
            RegistryDescriptor(mediaType: RegistryMediaType.ociManifest,
                               digest: RegistryDigest(algorithm: .sha256, hex: String(repeating: String(i), count: 64)),
                               size: 100, platform: RegistryPlatform(architecture: platform.0, variant: platform.1))
        }
    }

    @Test(arguments: [
        // wanted, offered (in index order), index chosen
        ("amd64", [("arm64", "v8"), ("amd64", nil)], 1),
        ("arm64", [("amd64", nil), ("arm64", "v8")], 1),
        ("arm64", [("amd64", nil), ("arm64", nil)], 1),
        ("arm64/v8", [("arm64", nil)], 0),
        ("aarch64", [("arm64", "v8")], 0),
        ("x86_64", [("amd64", "v1")], 0),
        ("arm", [("arm", "v6"), ("arm", "v7")], 1),
        ("arm/v7", [("arm", "v5"), ("arm", "v6")], 1),
        ("linux/amd64", [("amd64", nil), ("amd64", nil)], 0),
    ] as [(String, [(String, String?)], Int)])
    func selects(wanted: String, offered: [(String, String?)], chosen: Int) throws {
        let manifests = Self.index(offered)
        let descriptor = try RegistryManifest.select(try RegistryPlatform(parsingArchitecture: wanted), from: manifests, in: "x")
        #expect(descriptor == manifests[chosen])
    }

    @Test func noMatchListsWhatIsOffered() {
        let manifests = Self.index([("arm64", "v8"), ("amd64", nil)])
        #expect { try RegistryManifest.select(RegistryPlatform(architecture: "s390x"), from: manifests, in: "docker://r/x") } throws: { error in
            let message = (error as? DiskImportError)?.message ?? ""
            return message.contains("linux/s390x") && message.contains("linux/arm64/v8, linux/amd64") && message.contains("--arch")
        }
        // arm/v6 cannot run a v7 image.
        #expect(throws: DiskImportError.self) {
            try RegistryManifest.select(RegistryPlatform(architecture: "arm", variant: "v6"), from: Self.index([("arm", "v7")]), in: "x")
        }
    }

    @Test func otherOperatingSystemsAreNotChosen() {
        var windows = Self.index([("amd64", nil)])
        windows[0].platform?.os = "windows"
        #expect(throws: DiskImportError.self) { try RegistryManifest.select(RegistryPlatform(architecture: "amd64"), from: windows, in: "x") }
    }

    @Test(arguments: ["", "arm64/", "a/b/c/d", "freebsd/amd64/v1", "amd 64"])
    func rejectsBadArch(text: String) {
        #expect(throws: DiskImportError.self) { try RegistryPlatform(parsingArchitecture: text) }
    }

    @Test func hostIsTheMachine() {
        #if arch(x86_64)
        #expect(RegistryPlatform.host.architecture == "amd64")
        #elseif arch(arm64)
        #expect(RegistryPlatform.host.architecture == "arm64")
        #endif
    }
}

@Suite struct RegistryManifestTests {
    static let digest = RegistryDigest(algorithm: .sha256, hex: String(repeating: "0", count: 64))
    static let layer = #"{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:\#(String(repeating: "1", count: 64))","size":5}"#
    static let config = #"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\#(String(repeating: "2", count: 64))","size":7}"#

    static func parse(_ json: String, _ type: String?) throws -> RegistryManifest {
        try RegistryManifest(bytes: Array(json.utf8), contentType: type, digest: digest, source: "docker://r/x")
    }

    @Test func imageManifest() throws {
        let manifest = try Self.parse(#"{"schemaVersion":2,"config":\#(Self.config),"layers":[\#(Self.layer)]}"#,
                                      "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8")
        guard case .image(let config, let layers) = manifest.content else { Issue.record("not an image"); return }
        #expect(config.size == 7)
        #expect(layers.map(\.size) == [5])
        #expect(manifest.mediaType == RegistryMediaType.dockerManifest)
    }

    @Test func indexBranchesOnContentType() throws {
        let body = #"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:\#(String(repeating: "3", count: 64))","size":9,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}"#
        let manifest = try Self.parse(body, RegistryMediaType.ociIndex)
        guard case .index(let entries) = manifest.content else { Issue.record("not an index"); return }
        #expect(entries.first?.platform == RegistryPlatform(architecture: "arm64", variant: "v8"))
        // The same bytes served as an image manifest lack config and layers: refused, not guessed.
        #expect(throws: DiskImportError.self) { try Self.parse(body, RegistryMediaType.ociManifest) }
    }

    @Test func genericContentTypeFallsBackToTheBody() throws {
        let body = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":\#(Self.config),"layers":[]}"#
        #expect(try Self.parse(body, "application/json").mediaType == RegistryMediaType.ociManifest)
        #expect(try Self.parse(body, nil).mediaType == RegistryMediaType.ociManifest)
    }

    @Test(arguments: [
        (#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","config":\#(config),"layers":[]}"#, RegistryMediaType.ociManifest, "says it is"),
        (#"{"schemaVersion":1,"name":"x"}"#, "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"),
        (#"{"schemaVersion":2}"#, "text/html", "unsupported manifest media type"),
        (#"{"schemaVersion":3,"config":\#(config),"layers":[]}"#, RegistryMediaType.ociManifest, "schemaVersion 3"),
        ("not json", RegistryMediaType.ociManifest, "not valid manifest JSON"),
        (#"{"schemaVersion":2,"config":{"digest":"sha256:12","size":1},"layers":[]}"#, RegistryMediaType.ociManifest, "bad digest"),
        (#"{"schemaVersion":2,"config":{"digest":"sha256:\#(String(repeating: "1", count: 64))","size":-1},"layers":[]}"#, RegistryMediaType.ociManifest, "negative size"),
    ])
    func refuses(body: String, type: String, message: String) {
        #expect { try Self.parse(body, type) } throws: { error in
            ((error as? DiskImportError)?.message ?? "").contains(message)
        }
    }
}
