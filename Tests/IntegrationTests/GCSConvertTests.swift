import Foundation
import Testing

/// `convert gs://…` and `info gs://…` against gcp-storage-emulator: anonymously, and with a service account
/// through the OAuth2 gate (scripts/fixtures/gcs-server.py), which verifies the JWT assertion at its token
/// endpoint and refuses any request without a token it issued.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct GCSConvertTests {
    @Test func anAnonymousObjectOnTheEmulator() throws {
        let gcs = try ObjectStoreFixture()
        let result = try gcs.convert("gs://disks/disk.qcow2.xz", ["--gcs-endpoint", try gcs.gcsEmulator()])
        try gcs.expectIdentical(result, toQemuImgOf: gcs.local("disk.qcow2.xz"))
        var environment = ProcessInfo.processInfo.environment
        environment["STORAGE_EMULATOR_HOST"] = "127.0.0.1:\(try gcs.fixtures["GCS_HTTP_PORT"])"
        let viaVariable = try gcs.convert("gs://disks/disk.raw.gz", [], target: "second.img", environment: environment)
        try gcs.expectIdentical(viaVariable, toQemuImgOf: gcs.local("disk.raw.gz"), target: "second.img")
    }

    /// The token endpoint is called with a verified assertion, every object request carries the token it issued,
    /// and neither the token nor the key appears in the output.
    @Test func aServiceAccountKeyGetsATokenAndSendsIt() throws {
        let gcs = try ObjectStoreFixture()
        let (key, tag) = try gcs.taggedKey("GCS_KEY_FILE")
        let result = try gcs.convert("gs://disks/\(try gcs.fixtures["S3_ODD_KEY"])", ["--gcs-endpoint", try gcs.gcsGate(), "--ca-file", try gcs.fixtures["CA_FILE"],
                                                                                  "--credentials-file", key, "-v", "--progress"])
        try gcs.expectIdentical(result, toQemuImgOf: gcs.local("disk.qcow2"))
        let (tokens, requests) = try gcs.gateEntries(tag: tag)
        #expect(tokens.count == 1 && tokens.allSatisfy { $0["ok"] as? Bool == true }, "\(tokens)")
        // The metadata GET and the download, both with the token issued.
        #expect(requests.count >= 2 && requests.allSatisfy { $0["authorized"] as? Bool == true }, "\(requests)")
        try gcs.expectNoSecrets(result)
        #expect(!result.stderr.contains("PRIVATE KEY"))
    }

    /// Tokens that live 4 s and a stall of more than that mid-body: the resumed request carries a renewed token.
    @Test func aTokenIsRenewedBeforeItExpires() throws {
        let gcs = try ObjectStoreFixture()
        // Connections: the token POST, the metadata GET, the download (stalled once past 1.5 MB).
        let proxy = try FaultProxy(gcs.fixtures, target: try gcs.fixtures["GCS_HTTPS_PORT"], ["--stall-after", "1500000", "--stalls", "3"])
        let (key, tag) = try gcs.taggedKey("GCS_SHORT_KEY_FILE")
        let result = try gcs.convert("gs://disks/disk.raw", ["--gcs-endpoint", try gcs.gcsGate(port: proxy.port), "--ca-file", try gcs.fixtures["CA_FILE"],
                                                              "--credentials-file", key, "--stall-timeout", "5"])
        try gcs.expectIdentical(result, toQemuImgOf: gcs.local("disk.raw"))
        #expect(proxy.connections.contains { $0["fault"] as? String == "stall" && ($0["server_bytes"] as? Int ?? 0) >= 1_500_000 }, "\(proxy.connections)")
        let (tokens, requests) = try gcs.gateEntries(tag: tag)
        #expect(tokens.count >= 2, "\(tokens)")
        #expect(requests.allSatisfy { $0["authorized"] as? Bool == true }, "\(requests)")
        #expect(Set(requests.compactMap { $0["token"] as? String }).count >= 2, "\(requests)")
    }

    @Test func refusalsNameTheirCause() throws {
        let gcs = try ObjectStoreFixture()
        let gate = ["--gcs-endpoint", try gcs.gcsGate(), "--ca-file", try gcs.fixtures["CA_FILE"]]
        try gcs.expectFailure(try gcs.convert("gs://disks/disk.raw", gate), containing: "is not public")
        try gcs.expectFailure(try gcs.convert("gs://disks/disk.raw", gate + ["--credentials-file", try gcs.fixtures["GCS_UNKNOWN_KEY_FILE"]]),
                              containing: "invalid_grant")
        try gcs.expectFailure(try gcs.convert("gs://disks/missing.raw", ["--gcs-endpoint", try gcs.gcsEmulator()]), containing: "does not exist")
        try gcs.expectFailure(try gcs.convert("gs://disks/disk.raw", gate + ["--credentials-file", try gcs.fixtures["CA_FILE"]]),
                              containing: "is not a JSON service account key", status: 64)
    }

    @Test func infoReadsOnlyTheHead() throws {
        let gcs = try ObjectStoreFixture()
        let info = try Harness.run(Harness.binary, ["info", "gs://disks/disk.qcow2", "--output", "json", "--gcs-endpoint", try gcs.gcsEmulator()])
        #expect(info.status == 0 && info.stdout.contains("\"format\":\"qcow2\"") && info.stdout.contains("gs://disks/disk.qcow2"), "\(info.stderr)")
    }

    /// With --http-random-access a qcow2 is read by ranged GETs pinned to the object's generation.
    @Test func aPlainQcow2IsReadByRangedGetsWhenAsked() throws {
        let gcs = try ObjectStoreFixture()
        let result = try gcs.convert("gs://disks/disk.qcow2", ["--gcs-endpoint", try gcs.gcsEmulator(), "--http-random-access", "--json"])
        try gcs.expectIdentical(result, toQemuImgOf: gcs.local("disk.qcow2"))
        #expect(result.stdout.contains("\"scratch-bytes\":0"), "\(result.stdout)")
    }
}
