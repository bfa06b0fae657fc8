import Foundation
import Testing

/// `diskimport convert docker://…` and `info docker://…` against the fixture registries: Debian's docker-registry
/// with htpasswd, and with Bearer tokens and blob redirects to a storage host that refuses any Authorization
/// header; images pushed by skopeo as OCI index, OCI manifest, Docker list and Docker v2s2, with gzip, zstd and
/// uncompressed layers, arm64 listed before amd64. Every import is compared with `qemu-img convert -O raw`.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct RegistryConvertTests {
    @Test(arguments: ["test:latest", "test:amd64", "test:docker-list", "test:docker-v2s2", "zstd:latest", "plain:latest"])
    func everyManifestTypeAndLayerCompressionIsByteIdentical(image: String) throws {
        let registry = try RegistryFixture()
        let result = try registry.convert(try registry.basic("containerdisks/" + image), try registry.trust + registry.login + ["--json", "--arch", "amd64"])
        try registry.expectIdentical(result)
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let layers = summary?["layers"] as? [String]
        let compression = image.hasPrefix("zstd") ? ["zstd"] : image.hasPrefix("plain") ? [] : ["gzip"]
        #expect(layers == compression + ["tar", "qcow2"])
        // Images laid out as qemu-img writes them stream with no scratch space.
        #expect(summary?["scratch-bytes"] as? Int == 0)
    }

    @Test(arguments: ["test:latest", "test:docker-list"])
    func archPicksThePlatform(image: String) throws {
        let registry = try RegistryFixture()
        let result = try registry.convert(try registry.basic("containerdisks/" + image), try registry.trust + registry.login + ["--arch", "arm64"])
        try registry.expectIdentical(result, arch: "arm64")
        let none = try registry.convert(try registry.basic("containerdisks/" + image), try registry.trust + registry.login + ["--arch", "s390x"],
                                        target: "none.img")
        try registry.expectFailure(none, containing: "has no image for linux/s390x (it has linux/arm64/v8, linux/amd64; choose one with --arch)",
                                   target: "none.img")
    }

    @Test func aDigestPinnedReference() throws {
        let registry = try RegistryFixture()
        let index = try registry.fixtures["DIGEST_INDEX"], arm64 = try registry.fixtures["DIGEST_ARM64"]
        try registry.expectIdentical(try registry.convert(try registry.basic("containerdisks/test@\(index)"),
                                                          try registry.trust + registry.login + ["--arch", "amd64"]))
        // Pinned to the arm64 image manifest itself: no index to choose from, whatever the machine.
        try registry.expectIdentical(try registry.convert(try registry.basic("containerdisks/test:ignored@\(arm64)"),
                                                          try registry.trust + registry.login, target: "arm.img"), arch: "arm64", target: "arm.img")
        let absent = "sha256:" + String(repeating: "0", count: 64)
        try registry.expectFailure(try registry.convert(try registry.basic("containerdisks/test@\(absent)"), try registry.trust + registry.login,
                                                        target: "absent.img"), containing: "not found (404)", target: "absent.img")
    }

    @Test func anonymousPullThroughTokensAndARedirectedBlob() throws {
        let registry = try RegistryFixture()
        // --cert-dir, and no credentials: the token server grants pull on public/* anonymously. The storage host
        // answers 400 to any Authorization header, so success proves the token stayed behind.
        let result = try registry.convert(try registry.token("public/disk:latest"), ["--cert-dir", try registry.fixtures["CERT_DIR"], "--arch", "amd64"])
        try registry.expectIdentical(result)
        let denied = try registry.convert(try registry.token("private/disk:latest"), try registry.trust, target: "denied.img")
        try registry.expectFailure(denied, containing: "authentication failed (401) for \(try registry.token("private/disk:latest")): the registry needs credentials",
                                   target: "denied.img")
    }

    @Test func credentialsGetATokenAndStayOffTheRedirect() throws {
        let registry = try RegistryFixture()
        let result = try registry.convert(try registry.token("private/disk:latest"), try registry.trust + registry.login + ["--arch", "arm64", "-v"])
        try registry.expectIdentical(result, arch: "arm64")
        try registry.expectNoCredentials(result)
    }

    @Test func aWrongPasswordIsAClear401() throws {
        let registry = try RegistryFixture()
        let wrong = registry.directory.file("wrong-password")
        try "wrong-password-value\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let flags = try registry.trust + ["--user", try registry.user, "--password-file", wrong]
        let basic = try registry.convert(try registry.basic("containerdisks/test:latest"), flags)
        try registry.expectFailure(basic, containing: "authentication failed (401) for \(try registry.basic("containerdisks/test:latest")): wrong user name or password")
        let token = try registry.convert(try registry.token("private/disk:latest"), flags)
        try registry.expectFailure(token, containing: "authentication failed (401) at the token service")
        for result in [basic, token] { #expect(!result.stderr.contains("wrong-password-value")) }
        let anonymous = try registry.convert(try registry.basic("containerdisks/test:latest"), try registry.trust)
        try registry.expectFailure(anonymous, containing: "the registry needs credentials: --user and --password-file")
    }

    @Test func aWrongCAIsAClearTLSError() throws {
        let registry = try RegistryFixture()
        for trust in [[], ["--ca-file", try registry.fixtures["OTHER_CA_FILE"]]] {
            let result = try registry.convert(try registry.basic("containerdisks/test:latest"), trust + registry.login)
            try registry.expectFailure(result, containing: "TLS certificate verification failed for 127.0.0.1:\(try registry.fixtures["REG_BASIC_PORT"])")
        }
    }

    @Test func credentialsNeverAppearInAnyOutput() throws {
        let registry = try RegistryFixture()
        let runs = [
            try registry.convert(try registry.basic("containerdisks/test:latest"), try registry.trust + registry.login + ["-v", "--json"], target: "a.img"),
            try registry.convert(try registry.token("private/disk:latest"), try registry.trust + registry.login + ["-v", "--json"], target: "b.img"),
            try registry.convert(try registry.token("private/absent:latest"), try registry.trust + registry.login + ["-v"], target: "c.img"),
            try Harness.run(Harness.binary, ["info", try registry.token("private/disk:latest"), "-v", "--output", "json"] + registry.trust + registry.login),
            try Harness.run(Harness.binary, ["info", try registry.basic("containerdisks/test:latest"), "-v"] + registry.trust + registry.login),
        ]
        #expect(runs[0].status == 0 && runs[1].status == 0 && runs[3].status == 0 && runs[4].status == 0,
                "\(runs.map(\.stderr))")
        #expect(runs[2].status == 1)
        for run in runs { try registry.expectNoCredentials(run) }
    }
}

/// Images a test builds and pushes for itself: several layers, none with a disk, tampered blobs.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct RegistryLayerTests {
    static func unique() -> String { "t" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }

    /// The disk is the first regular file under disk/ walking layers in order: a directory, a whiteout and files
    /// elsewhere come first and are skipped; a later layer's disk/ file is never reached.
    @Test func theFirstFileUnderDiskInLayerOrder() throws {
        let registry = try RegistryFixture()
        let raw = try Data(contentsOf: URL(fileURLWithPath: try registry.fixtures["DISK_RAW"]))
        let first = try registry.tar("first", [("etc/", nil), ("etc/hostname", Data("x\n".utf8)), ("disk/", nil),
                                               ("disk/.wh.old.img", Data()), ("disk/sub/", nil)])
        let second = try registry.tar("second", [("disk/", nil), ("disk/disk.img", raw)])
        let third = try registry.tar("third", [("disk/", nil), ("disk/another.img", Data(repeating: 7, count: 4096))])
        let image = try registry.push(Self.unique(), layers: [(first, "gzip"), (second, "zstd"), (third, "none")])
        let result = try registry.convert(image.reference, try registry.trust + registry.login + ["--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(try registry.fixtures["DISK_RAW"], registry.directory.file("out.img")))
        #expect(result.stdout.contains(#""layers":["zstd","tar","raw"]"#))
    }

    @Test func noDiskInAnyLayerIsAClearError() throws {
        let registry = try RegistryFixture()
        let layer = try registry.tar("nodisk", [("etc/", nil), ("etc/hostname", Data("x\n".utf8)), ("disk/", nil), ("diskette", Data("no".utf8))])
        let image = try registry.push(Self.unique(), layers: [(layer, "gzip"), (layer, "none")])
        let result = try registry.convert(image.reference, try registry.trust + registry.login)
        try registry.expectFailure(result, containing: "has no disk image: none of its 2 layers holds a file under disk/")
    }

    /// A blob changed in the registry's storage: the import is refused and leaves no target, whether the damage
    /// breaks the compression (gzip) or passes through to the disk's bytes (uncompressed: only the digest shows it).
    @Test(arguments: ["gzip", "none"])
    func aTamperedBlobIsRefusedAndLeavesNoTarget(compression: String) throws {
        let registry = try RegistryFixture()
        let qcow2 = try Data(contentsOf: URL(fileURLWithPath: try registry.fixtures["WWW_DIR"] + "/disk.qcow2"))
        // Unique bytes (a marker file first), so this test's blob is shared with no other image.
        let layer = try registry.tar("tamper", [("marker", Data(Self.unique().utf8)), ("disk/", nil), ("disk/disk.qcow2", qcow2)])
        let image = try registry.push(Self.unique(), layers: [(layer, compression)])
        let blob = try registry.blobFile(image.layers[0])
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: blob))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        let byte = try handle.read(upToCount: 1) ?? Data([0])
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: Data([byte[0] ^ 0x5a]))
        try handle.close()
        let result = try registry.convert(image.reference, try registry.trust + registry.login)
        try registry.expectFailure(result, containing: "does not match its digest")
    }

    /// A manifest changed in the registry's storage (one space added: still valid JSON, same meaning): its bytes no
    /// longer hash to the digest the registry names it by, and the import is refused before any layer is read.
    @Test func aTamperedManifestIsRefused() throws {
        let registry = try RegistryFixture()
        let layer = try registry.tar("manifest", [("marker", Data(Self.unique().utf8)), ("disk/", nil),
                                                  ("disk/disk.img", try Data(contentsOf: URL(fileURLWithPath: try registry.fixtures["DISK_RAW"])))])
        let image = try registry.push(Self.unique(), layers: [(layer, "gzip")])
        let info = try Harness.run(Harness.binary, ["info", "--output", "json", image.reference] + registry.trust + registry.login)
        let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        let digest = try #require(json?["manifest-digest"] as? String, "\(info.stderr)")
        let file = try registry.blobFile(digest)
        let original = try String(contentsOfFile: file, encoding: .utf8)
        try #require(original.contains("\"schemaVersion\":2"))
        try original.replacingOccurrences(of: "\"schemaVersion\":2", with: "\"schemaVersion\": 2")
            .write(toFile: file, atomically: false, encoding: .utf8)
        let result = try registry.convert(image.reference, try registry.trust + registry.login)
        try registry.expectFailure(result, containing: "does not match the registry's Docker-Content-Digest (\(digest)")
        let pinned = try registry.convert(image.reference.replacingOccurrences(of: ":latest", with: "@" + digest),
                                          try registry.trust + registry.login, target: "pinned.img")
        #expect(pinned.status == 1)
        #expect(pinned.stderr.contains(digest), "\(pinned.stderr)")
    }

    /// A truncated blob: the registry serves fewer bytes than the manifest says.
    @Test func aTruncatedBlobIsRefused() throws {
        let registry = try RegistryFixture()
        let layer = try registry.tar("short", [("marker", Data(Self.unique().utf8)), ("disk/", nil),
                                               ("disk/disk.img", try Data(contentsOf: URL(fileURLWithPath: try registry.fixtures["DISK_RAW"])))])
        let image = try registry.push(Self.unique(), layers: [(layer, "gzip")])
        let blob = try registry.blobFile(image.layers[0])
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: blob))
        try handle.truncate(atOffset: try handle.seekToEnd() - 100)
        try handle.close()
        let result = try registry.convert(image.reference, try registry.trust + registry.login)
        #expect(result.status == 1)
        #expect(result.stderr.contains("refusing it"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: registry.directory.path).filter { $0.contains("out.img") }.isEmpty)
    }
}

/// `diskimport info docker://…`: the digests a pull resolves, and the disk's format and size from the streamed head.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct RegistryInfoTests {
    @Test func multiPlatformImage() throws {
        let registry = try RegistryFixture()
        let result = try Harness.run(Harness.binary, ["info", try registry.basic("containerdisks/test:latest"), "--arch", "amd64"]
                                         + registry.trust + registry.login)
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        #expect(text.contains("manifest digest: \(try registry.fixtures["DIGEST_INDEX"])"))
        #expect(text.contains("platform: linux/amd64\n"))
        #expect(text.contains("platform manifest digest: \(try registry.fixtures["DIGEST_AMD64"])"))
        #expect(text.contains("layers: gzip > tar > qcow2"))
        #expect(text.contains("file format: qcow2"))
        let oracle = try Harness.tool("qemu-img", "info", "--output", "json", try registry.fixtures["WWW_DIR"] + "/disk.qcow2").stdout
        let size = try #require((try JSONSerialization.jsonObject(with: Data(oracle.utf8)) as? [String: Any])?["virtual-size"] as? Int)
        #expect(text.contains("(\(size) bytes)"))
    }

    @Test func jsonForASingleManifestAndForArm64() throws {
        let registry = try RegistryFixture()
        let single = try Harness.run(Harness.binary, ["info", "--output", "json", try registry.basic("containerdisks/test:docker-v2s2")]
                                         + registry.trust + registry.login)
        #expect(single.status == 0, "\(single.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(single.stdout.utf8)) as? [String: Any]
        #expect(json?["manifest-digest"] as? String == (try registry.fixtures["DIGEST_DOCKER_V2S2"]))
        #expect(json?["platform"] == nil)
        #expect(json?["format"] as? String == "qcow2")
        let arm = try Harness.run(Harness.binary, ["info", "--output", "json", "--arch", "arm64", try registry.token("public/disk")] + registry.trust)
        let armJSON = try JSONSerialization.jsonObject(with: Data(arm.stdout.utf8)) as? [String: Any]
        #expect(armJSON?["platform"] as? String == "linux/arm64/v8", "\(arm.stderr)")
        #expect(armJSON?["platform-manifest-digest"] as? String == (try registry.fixtures["DIGEST_ARM64"]))
        #expect(armJSON?["virtual-size"] as? Int == 1 << 20)
    }
}
