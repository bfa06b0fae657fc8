import DiskImportCore
import Foundation
import Testing
@testable import Fetch

/// The registry client against the fixture's real registries: `docker-registry` with htpasswd (Basic) and with
/// Bearer tokens from token-server.py, blobs redirected to a storage host that refuses any Authorization header.
enum RegistryFixtures {
    static var values: [String: String] { FetchFixtures.values ?? [:] }
    static func value(_ key: String) throws -> String { try #require(values[key], "fixtures.env has no \(key)") }

    static var basicRegistry: String { "127.0.0.1:\(values["REG_BASIC_PORT"] ?? "0")" }
    static var tokenRegistry: String { "127.0.0.1:\(values["REG_TOKEN_PORT"] ?? "0")" }

    static func credentials(password: String? = nil) throws -> Credentials {
        try Credentials(user: value("REG_USER"), password: password ?? String(contentsOfFile: value("REG_PASSWORD_FILE"), encoding: .utf8))
    }

    static func client(_ registry: String, credentials: Credentials? = nil) throws -> RegistryClient {
        var options = HTTPOptions()
        options.caFiles = [try value("CA_FILE")]
        options.retryDelay = 0.05
        options.credentials = credentials
        return RegistryClient(registry: registry, http: try HTTPClient(options: options))
    }

    static func digest(_ key: String) throws -> RegistryDigest { try RegistryDigest(parsing: value(key)) }

    /// The token server's request log, one JSON object a line.
    static func tokenRequests() throws -> [[String: Any]] {
        let text = try String(contentsOfFile: value("TOKEN_LOG"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

@Suite(.enabled(if: FetchFixtures.available, "needs DISKIMPORT_FIXTURES (scripts/test starts the servers)"))
struct RegistryClientBasicTests {
    @Test(arguments: [("latest", "DIGEST_INDEX"), ("amd64", "DIGEST_AMD64"), ("docker-list", "DIGEST_DOCKER_LIST"),
                      ("docker-v2s2", "DIGEST_DOCKER_V2S2")])
    func resolvesTagsToTheDigestsSkopeoPushed(tag: String, key: String) throws {
        let client = try RegistryFixtures.client(RegistryFixtures.basicRegistry, credentials: RegistryFixtures.credentials())
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.basicRegistry)/containerdisks/test:\(tag)")
        #expect(try client.resolveDigest(reference) == RegistryFixtures.digest(key))
        // The same digest from the manifest's bytes.
        #expect(try client.manifest(reference).digest == RegistryFixtures.digest(key))
    }

    @Test(arguments: [("latest", RegistryMediaType.ociIndex), ("amd64", RegistryMediaType.ociManifest),
                      ("docker-list", RegistryMediaType.dockerList), ("docker-v2s2", RegistryMediaType.dockerManifest)])
    func fetchesAllFourManifestTypes(tag: String, type: String) throws {
        let client = try RegistryFixtures.client(RegistryFixtures.basicRegistry, credentials: RegistryFixtures.credentials())
        let manifest = try client.manifest(try RegistryReference(parsing: "\(RegistryFixtures.basicRegistry)/containerdisks/test:\(tag)"))
        #expect(manifest.mediaType == type)
        switch manifest.content {
        case .index(let entries):
            #expect(RegistryMediaType.isIndex(type))
            // arm64 is listed first: selection is by platform, not position.
            #expect(entries.first?.platform?.architecture == "arm64")
            let amd64 = try RegistryManifest.select(RegistryPlatform(architecture: "amd64"), from: entries, in: "x")
            if type == RegistryMediaType.ociIndex { #expect(amd64.digest == (try RegistryFixtures.digest("DIGEST_AMD64"))) }
        case .image(_, let layers):
            #expect(RegistryMediaType.isImage(type))
            #expect(layers.count == 1)
        }
    }

    @Test func pinnedByDigest() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.basicRegistry, credentials: RegistryFixtures.credentials())
        let digest = try RegistryFixtures.digest("DIGEST_ARM64")
        let reference = RegistryReference(registry: RegistryFixtures.basicRegistry, repository: "containerdisks/test", digest: digest)
        let manifest = try client.manifest(reference)
        #expect(manifest.digest == digest)
        #expect(try client.resolveDigest(reference) == digest)
        // A digest the registry does not have.
        let missing = reference.pinned(to: RegistryDigest(algorithm: .sha256, hex: String(repeating: "0", count: 64)))
        #expect { try client.manifest(missing) } throws: { ($0 as? DiskImportError)?.message.contains("not found (404)") == true }
    }

    @Test func wrongPasswordIsAClearAuthenticationError() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.basicRegistry, credentials: RegistryFixtures.credentials(password: "wrong-password"))
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.basicRegistry)/containerdisks/test")
        #expect { try client.manifest(reference) } throws: { error in
            let error = error as? DiskImportError
            return error?.kind == .auth && error?.message.contains("authentication failed (401)") == true
                && error?.message.contains("wrong-password") == false
        }
    }

    @Test func noCredentialsSaysWhichFlagsToUse() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.basicRegistry)
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.basicRegistry)/containerdisks/test")
        #expect { try client.resolveDigest(reference) } throws: { error in
            ((error as? DiskImportError)?.message ?? "").contains("--user and --password-file")
        }
    }

    @Test func unknownRepository() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.basicRegistry, credentials: RegistryFixtures.credentials())
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.basicRegistry)/containerdisks/absent:1")
        #expect { try client.manifest(reference) } throws: { error in
            ((error as? DiskImportError)?.message ?? "").contains("not found (404)")
        }
    }

    @Test func blobsStreamVerified() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.basicRegistry, credentials: RegistryFixtures.credentials())
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.basicRegistry)/containerdisks/test:amd64")
        guard case .image(let config, let layers) = try client.manifest(reference).content else { Issue.record("not an image"); return }
        for descriptor in [config] + layers {
            let blob = try client.blob(descriptor, of: reference)
            try blob.verifyRest()
            #expect(blob.bytesRead == descriptor.size)
        }
    }

    @Test func aDescriptorWithTheWrongDigestOrSizeIsRefused() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.basicRegistry, credentials: RegistryFixtures.credentials())
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.basicRegistry)/containerdisks/test:amd64")
        guard case .image(let config, _) = try client.manifest(reference).content else { Issue.record("not an image"); return }
        // The config's bytes under a descriptor claiming one byte more: refused at open (Content-Length) or at the end.
        var longer = config
        longer.size += 1
        #expect { try client.blob(longer, of: reference).verifyRest() } throws: { ($0 as? DiskImportError)?.kind == .checksum }
        // A stream whose digest differs from the descriptor's: refused when it ends, before read returns 0.
        let body = try client.blob(config, of: reference)
        var wrong = config
        wrong.digest = RegistryDigest(algorithm: .sha256, hex: String(repeating: "f", count: 64))
        let verifying = try RegistryBlobStream(body, descriptor: wrong, name: "x")
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(config.size) + 10, alignment: 8)
        defer { buffer.deallocate() }
        #expect(try verifying.read(into: buffer) == Int(config.size))
        #expect { _ = try verifying.read(into: buffer) } throws: { ($0 as? DiskImportError)?.kind == .checksum }
        #expect { _ = try verifying.read(into: buffer) } throws: { ($0 as? DiskImportError)?.kind == .checksum }
    }
}

@Suite(.enabled(if: FetchFixtures.available, "needs DISKIMPORT_FIXTURES (scripts/test starts the servers)"))
struct RegistryClientTokenTests {
    @Test func anonymousPullOfAPublicRepository() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.tokenRegistry)
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.tokenRegistry)/public/disk:latest")
        let manifest = try client.manifest(reference)
        #expect(manifest.digest == (try RegistryFixtures.digest("DIGEST_INDEX")))
        guard case .index(let entries) = manifest.content else { Issue.record("not an index"); return }
        let amd64 = try RegistryManifest.select(RegistryPlatform(architecture: "amd64"), from: entries, in: "x")
        let image = try client.manifest(reference.pinned(to: amd64.digest), expectedSize: amd64.size)
        guard case .image(_, let layers) = image.content else { Issue.record("not an image"); return }
        // The layer is redirected to the storage host, which answers 400 to any Authorization header.
        let blob = try client.blob(layers[0], of: reference)
        try blob.verifyRest()
        #expect(blob.bytesRead == layers[0].size)
    }

    @Test func anonymousPullOfAPrivateRepositoryFails() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.tokenRegistry)
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.tokenRegistry)/private/disk:latest")
        #expect { try client.manifest(reference) } throws: { error in
            let error = error as? DiskImportError
            return error?.kind == .auth && error?.message.contains("authentication failed (401)") == true
        }
    }

    @Test func credentialsGetATokenForAPrivateRepositoryAndBlobsFollowRedirectsWithoutThem() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.tokenRegistry, credentials: RegistryFixtures.credentials())
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.tokenRegistry)/private/disk:latest")
        guard case .index(let entries) = try client.manifest(reference).content else { Issue.record("not an index"); return }
        let arm64 = try RegistryManifest.select(RegistryPlatform(architecture: "arm64"), from: entries, in: "x")
        #expect(arm64.digest == (try RegistryFixtures.digest("DIGEST_ARM64")))
        guard case .image(let config, let layers) = try client.manifest(reference.pinned(to: arm64.digest)).content else { return }
        for descriptor in [config] + layers { try client.blob(descriptor, of: reference).verifyRest() }
        let asked = try RegistryFixtures.tokenRequests().filter { ($0["user"] as? String) == (try? RegistryFixtures.value("REG_USER")) }
        #expect(!asked.isEmpty)
    }

    @Test func wrongPasswordAtTheTokenService() throws {
        let client = try RegistryFixtures.client(RegistryFixtures.tokenRegistry, credentials: RegistryFixtures.credentials(password: "nope"))
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.tokenRegistry)/private/disk:latest")
        #expect { try client.resolveDigest(reference) } throws: { error in
            let message = (error as? DiskImportError)?.message ?? ""
            return message.contains("authentication failed (401)") && message.contains("wrong user name or password")
        }
    }

    /// A token for another repository: the registry answers 401 insufficient_scope, the client asks for a new one.
    @Test func aForeignScopeTokenIsRenewed() throws {
        let credentials = try RegistryFixtures.credentials()
        let client = try RegistryFixtures.client(RegistryFixtures.tokenRegistry, credentials: credentials)
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.tokenRegistry)/private/disk:latest")
        let foreign = try TokenServer.token(port: RegistryFixtures.value("TOKEN_PORT"), scope: "repository:private/other:pull", credentials: credentials)
        _ = try client.authenticator.mode()
        client.authenticator.remember(token: foreign, for: RegistryClient.pullScope(reference))
        #expect(try client.resolveDigest(reference) == RegistryFixtures.digest("DIGEST_INDEX"))
    }

    /// An expired token, issued by a second instance of the fixture's token server (same signing key, exp an hour
    /// in the past, well beyond the registry's 60 s of leeway): the registry answers 401 invalid_token, and the
    /// client gets a fresh token from the realm and goes on, for manifests and blobs alike.
    @Test func anExpiredTokenIsRenewed() throws {
        let credentials = try RegistryFixtures.credentials()
        let expired = try TokenServer.withExpiringServer { port in
            try TokenServer.token(port: port, scope: "repository:private/disk:pull", credentials: credentials)
        }
        let reference = try RegistryReference(parsing: "\(RegistryFixtures.tokenRegistry)/private/disk:amd64")
        let scope = RegistryClient.pullScope(reference)

        // Proof that the token is refused as it is.
        let probe = try RegistryFixtures.client(RegistryFixtures.tokenRegistry)
        let refused = try probe.http.fetch("https://\(RegistryFixtures.tokenRegistry)/v2/private/disk/manifests/latest",
                                           headers: ["Authorization: Bearer \(expired)", RegistryMediaType.accept], sendCredentials: false)
        #expect(refused.head.status == 401)
        #expect(refused.head.challenge?.error == "invalid_token")

        let client = try RegistryFixtures.client(RegistryFixtures.tokenRegistry, credentials: credentials)
        _ = try client.authenticator.mode()
        client.authenticator.remember(token: expired, for: scope)
        let before = try RegistryFixtures.tokenRequests().count
        #expect(try client.resolveDigest(reference.pinned(to: RegistryFixtures.digest("DIGEST_INDEX"))) == RegistryFixtures.digest("DIGEST_INDEX"))
        #expect(try RegistryFixtures.tokenRequests().count > before)

        // The same for a blob request (the stream does not see the challenge; the client renews in its mode).
        client.authenticator.remember(token: expired, for: scope)
        let manifest = try client.manifest(reference.pinned(to: RegistryFixtures.digest("DIGEST_AMD64")))
        client.authenticator.remember(token: expired, for: scope)
        guard case .image(let config, _) = manifest.content else { Issue.record("not an image"); return }
        try client.blob(config, of: reference).verifyRest()
    }
}

/// The fixture's token server, asked directly, and a second instance of it that issues expired tokens.
enum TokenServer {
    static func token(port: String, scope: String, credentials: Credentials) throws -> String {
        var options = HTTPOptions()
        options.caFiles = [try RegistryFixtures.value("CA_FILE")]
        options.credentials = credentials
        let response = try HTTPClient(options: options).fetch("https://127.0.0.1:\(port)/token?service=test-registry&scope=\(scope)")
        #expect(response.head.status == 200)
        let json = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return try #require(json?["token"] as? String)
    }

    /// Runs token-server.py with `--expires-in=-3600` on a free port for the duration of `body`.
    static func withExpiringServer<T>(_ body: (String) throws -> T) throws -> T {
        let base = try RegistryFixtures.value("FIXTURES_BASE")
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/fixtures").path
        let ports = Process()
        ports.executableURL = URL(fileURLWithPath: scripts + "/free-ports")
        ports.arguments = ["1"]
        let pipe = Pipe()
        ports.standardOutput = pipe
        try ports.run()
        ports.waitUntilExit()
        let port = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = [scripts + "/token-server.py", "--listen", "127.0.0.1:\(port)",
                            "--tls-cert", base + "/pki/server.crt", "--tls-key", base + "/pki/server.key",
                            "--key", base + "/pki/token.key", "--cert", base + "/pki/token.crt",
                            "--user", "\(try RegistryFixtures.value("REG_USER")):\(try String(contentsOfFile: RegistryFixtures.value("REG_PASSWORD_FILE"), encoding: .utf8))",
                            "--expires-in=-3600"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            // SIGKILL: a child of the test process may inherit a mask that blocks SIGTERM.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        // Up within 5 s, or the test fails naming why.
        var options = HTTPOptions()
        options.caFiles = [try RegistryFixtures.value("CA_FILE")]
        options.retries = 0
        let probe = try HTTPClient(options: options)
        for _ in 0..<100 {
            if (try? probe.fetch("https://127.0.0.1:\(port)/token"))?.head.status == 200 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try body(port)
    }
}
