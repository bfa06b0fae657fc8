import Foundation
import Testing

/// `diskimport import` with IMPORTER_SOURCE=registry against the fixture registries: the token registry (Bearer
/// tokens from the fixtures' token server, blobs redirected to a storage host that refuses any Authorization
/// header) and the htpasswd one. Every disk is compared with `qemu-img convert -O raw` of the pushed qcow2.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason)) struct PodRegistryTests {
    static let complete = #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#

    /// CDI's environment for a registry DataVolume: the endpoint, the pull secret's keys, the CA ConfigMap's
    /// directory and the architecture.
    static func environment(_ registry: RegistryFixture, endpoint: String, password: String? = nil,
                            architecture: String = "amd64") throws -> [String: String] {
        [
            "IMPORTER_SOURCE": "registry",
            "IMPORTER_ENDPOINT": endpoint,
            "IMPORTER_CONTENTTYPE": "kubevirt",
            "IMPORTER_IMAGE_SIZE": "16Mi",
            "IMPORTER_ACCESS_KEY_ID": try registry.user,
            "IMPORTER_SECRET_KEY": try password ?? registry.password,
            "IMPORTER_CERT_DIR": try registry.fixtures["CERT_DIR"],
            "INSECURE_TLS": "false",
            "PREALLOCATION": "false",
            "FILESYSTEM_OVERHEAD": "0.055",
            "IMPORTER_REGISTRY_IMAGE_ARCHITECTURE": architecture,
            "OWNER_UID": "5d1c2b9a",
        ]
    }

    /// The disk holds qemu-img's raw conversion of the `arch` disk, then zeros up to usable(16Mi, 0.055) = 15 MiB.
    static func expectDisk(_ pod: PodWorld, _ registry: RegistryFixture, arch: String,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        let oracle = try registry.oracle(arch)
        let size = try #require(FileManager.default.attributesOfItem(atPath: oracle)[.size] as? Int, sourceLocation: sourceLocation)
        #expect(try Harness.run("cmp", ["-n", String(size), oracle, pod.diskImage]).status == 0, sourceLocation: sourceLocation)
        #expect(try Harness.run("cmp", ["-i", "\(size):0", "-n", String((15 << 20) - size), pod.diskImage, "/dev/zero"]).status == 0,
                sourceLocation: sourceLocation)
        let attributes = try FileManager.default.attributesOfItem(atPath: pod.diskImage)
        #expect(attributes[.size] as? Int == 15 << 20, sourceLocation: sourceLocation)
        #expect(attributes[.posixPermissions] as? Int == 0o660, sourceLocation: sourceLocation)
    }

    /// An image larger than the volume: CDI's words, wrapped as CDI's Convert phase (where a registry import
    /// validates the size) wraps them, and no disk.
    @Test func anImageLargerThanTheVolumeIsRefusedInCDIsWords() throws {
        let registry = try RegistryFixture()
        let pod = try PodWorld()
        var env = try Self.environment(registry, endpoint: try registry.token("private/disk:latest"))
        env["IMPORTER_IMAGE_SIZE"] = "1Mi"
        let outcome = try pod.run(env)
        let size = try #require(FileManager.default.attributesOfItem(atPath: try registry.oracle("amd64"))[.size] as? Int)
        #expect(outcome.status == 1)
        #expect(outcome.termination == "Unable to process data: Unable to convert source data to target format: virtual image size \(size) is larger than the reported available storage \(1 << 20). A larger PVC is required")
        #expect(try pod.dataEntries() == [])
    }

    /// The registry source streams the layer (no scratch volume is mounted, and none is asked for) through tokens
    /// with credentials, and the redirected blob reaches the storage host without the Authorization header.
    @Test(arguments: ["amd64", "arm64"])
    func tokenAuthImportsByteForByte(arch: String) throws {
        let registry = try RegistryFixture()
        let pod = try PodWorld()
        let env = try Self.environment(registry, endpoint: try registry.token("private/disk:latest"), architecture: arch)
        let outcome = try pod.run(env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == Self.complete)
        try Self.expectDisk(pod, registry, arch: arch)
        #expect(try pod.dataEntries() == ["disk.img"])
        for phase in ["Info", "Transfer", "Resize", "Complete"] {
            #expect(outcome.stderr.contains("phase \(phase) done in"), "no \(phase) line")
        }
        try registry.expectNoCredentials(Harness.Result(status: outcome.status, stdout: outcome.termination ?? "", stderr: outcome.stderr))
    }

    /// Every manifest type the htpasswd registry holds, by tag and pinned by digest, with Basic auth.
    @Test(arguments: ["containerdisks/test:docker-v2s2", "containerdisks/zstd:latest", "DIGEST_INDEX"])
    func basicAuthManifestTypes(image: String) throws {
        let registry = try RegistryFixture()
        let pod = try PodWorld()
        let path = image.hasPrefix("DIGEST") ? "containerdisks/test@\(try registry.fixtures[image])" : image
        let outcome = try pod.run(try Self.environment(registry, endpoint: try registry.basic(path)))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == Self.complete)
        try Self.expectDisk(pod, registry, arch: "amd64")
    }

    @Test func aWrongPasswordFailsOnOneLineWithoutTheCredential() throws {
        let registry = try RegistryFixture()
        let pod = try PodWorld()
        let wrong = "wrong-registry-password-\(UUID().uuidString)"
        for endpoint in [try registry.token("private/disk:latest"), try registry.basic("containerdisks/test:latest")] {
            let outcome = try pod.run(try Self.environment(registry, endpoint: endpoint, password: wrong))
            #expect(outcome.status == 1)
            let message = try #require(outcome.termination)
            #expect(message.hasPrefix("Unable to process data: authentication failed (401)"), "\(message)")
            #expect(!message.contains("\n"), "\(message)")
            #expect(outcome.stderr.split(separator: "\n").filter { $0.contains("import failed") }.count == 1, "\(outcome.stderr)")
            let basic = Data("\(try registry.user):\(wrong)".utf8).base64EncodedString()
            for secret in [wrong, basic, "eyJ"] {
                #expect(!message.contains(secret) && !outcome.stderr.contains(secret), "a credential was printed: \(secret.prefix(3))…")
            }
            #expect(try pod.dataEntries() == [])
        }
    }

    /// Without IMPORTER_CERT_DIR the registry's certificate is untrusted: a clear TLS error, unless INSECURE_TLS
    /// (which CDI applies to registries) skips verification, loudly.
    @Test func insecureTLSSkipsVerificationOfTheRegistry() throws {
        let registry = try RegistryFixture()
        let pod = try PodWorld()
        var env = try Self.environment(registry, endpoint: try registry.basic("containerdisks/test:latest"))
        env["IMPORTER_CERT_DIR"] = nil
        let refused = try pod.run(env)
        #expect(refused.status == 1)
        #expect(refused.termination?.contains("TLS certificate verification failed") == true, "\(refused.termination ?? "")")
        env["INSECURE_TLS"] = "true"
        let outcome = try pod.run(env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == Self.complete)
        #expect(outcome.stderr.contains("TLS certificate verification is disabled"), "\(outcome.stderr)")
        try Self.expectDisk(pod, registry, arch: "amd64")
    }

    @Test func aBadArchitectureIsRefusedBeforeAnyRequest() throws {
        let registry = try RegistryFixture()
        let pod = try PodWorld()
        let env = try Self.environment(registry, endpoint: try registry.basic("containerdisks/test:latest"), architecture: "amd64/v1/x")
        let outcome = try pod.run(env)
        #expect(outcome.status == 1)
        #expect(outcome.termination == #"IMPORTER_REGISTRY_IMAGE_ARCHITECTURE "amd64/v1/x" is not an architecture such as amd64, arm64 or arm/v7"#)
        let missing = try pod.run(try Self.environment(registry, endpoint: try registry.basic("containerdisks/test:latest"), architecture: "s390x"))
        #expect(missing.status == 1)
        #expect(missing.termination?.contains("has no image for linux/s390x") == true, "\(missing.termination ?? "")")
        #expect(try pod.dataEntries() == [])
    }
}
