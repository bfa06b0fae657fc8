import Foundation
import Testing

/// `diskimport import` with IMPORTER_SOURCE=s3 and gcs, CDI's variables and endpoint forms, against moto and the
/// GCS emulator and gate.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason)) struct PodObjectStoreTests {
    static let complete = #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#

    static func s3Environment(_ fixtures: Fixtures, endpoint: String) throws -> [String: String] {
        ["IMPORTER_SOURCE": "s3", "IMPORTER_ENDPOINT": endpoint, "IMPORTER_CONTENTTYPE": "kubevirt", "IMPORTER_IMAGE_SIZE": "16Mi",
         "IMPORTER_ACCESS_KEY_ID": try fixtures.contents(of: "S3_ACCESS_KEY_FILE"),
         "IMPORTER_SECRET_KEY": try fixtures.contents(of: "S3_SECRET_KEY_FILE"),
         "IMPORTER_CERT_DIR": try fixtures["CERT_DIR"], "PREALLOCATION": "false", "FILESYSTEM_OVERHEAD": "0", "OWNER_UID": "s3"]
    }

    /// The disk's first bytes equal qemu-img's conversion of the object (the file then grows to the requested size).
    func expectImported(_ pod: PodWorld, _ outcome: PodWorld.Outcome, qemuImgOf local: String, store: ObjectStoreFixture,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(outcome.status == 0, "\(outcome.stderr)", sourceLocation: sourceLocation)
        #expect(outcome.termination == Self.complete, sourceLocation: sourceLocation)
        let expected = try store.qemuRaw(of: local)
        let size = try #require(FileManager.default.attributesOfItem(atPath: expected)[.size] as? Int)
        #expect(try Harness.run("cmp", ["-n", String(size), expected, pod.diskImage]).status == 0, sourceLocation: sourceLocation)
    }

    @Test(arguments: [false, true])
    func s3PathStyleEndpointsOverHTTPAndHTTPS(https: Bool) throws {
        let store = try ObjectStoreFixture()
        let pod = try PodWorld()
        let endpoint = try store.s3Endpoint(https: https) + "/disks/disk.qcow2.xz"
        let outcome = try pod.run(try Self.s3Environment(store.fixtures, endpoint: endpoint))
        try expectImported(pod, outcome, qemuImgOf: store.local("disk.qcow2.xz"), store: store)
        SecretScan.expectNone(in: [("standard error", outcome.stderr)])
    }

    /// CDI decodes the endpoint's path (Go's url.Parse): a key with spaces and unicode, percent-encoded.
    @Test func s3KeyIsPercentDecodedFromTheEndpoint() throws {
        let store = try ObjectStoreFixture()
        let pod = try PodWorld()
        let key = try store.fixtures["S3_ODD_KEY"].addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!
        let outcome = try pod.run(try Self.s3Environment(store.fixtures, endpoint: try store.s3Endpoint() + "/disks/" + key))
        try expectImported(pod, outcome, qemuImgOf: store.local("disk.qcow2"), store: store)
    }

    @Test func s3FailuresAreCDIsConnectMessages() throws {
        let store = try ObjectStoreFixture()
        var env = try Self.s3Environment(store.fixtures, endpoint: try store.s3Endpoint() + "/disks/missing.raw")
        var outcome = try PodWorld().run(env)
        #expect(outcome.status == 1)
        #expect(outcome.termination?.hasPrefix("Unable to connect to s3 data source: ") == true && outcome.termination?.contains("NoSuchKey") == true,
                "\(outcome.termination ?? "")")
        env["IMPORTER_ENDPOINT"] = try store.s3Endpoint() + "/disks/disk.raw"
        env["IMPORTER_SECRET_KEY"] = nil
        outcome = try PodWorld().run(env)
        #expect(outcome.termination == "Unable to connect to s3 data source: s3 access key and secret key must be set together or not at all")
    }

    @Test func gcsWithAServiceAccountOnACustomHTTPSEndpoint() throws {
        let store = try ObjectStoreFixture()
        let pod = try PodWorld()
        let outcome = try pod.run([
            "IMPORTER_SOURCE": "gcs", "IMPORTER_ENDPOINT": try store.gcsGate() + "/disks/disk.qcow2",
            "GOOGLE_APPLICATION_CREDENTIALS": try store.fixtures["GCS_KEY_FILE"], "IMPORTER_CERT_DIR": try store.fixtures["CERT_DIR"],
            "IMPORTER_IMAGE_SIZE": "16Mi", "FILESYSTEM_OVERHEAD": "0",
        ])
        try expectImported(pod, outcome, qemuImgOf: store.local("disk.qcow2"), store: store)
        SecretScan.expectNone(in: [("standard error", outcome.stderr)])
    }

    @Test func gcsAnonymouslyAndItsConnectFailure() throws {
        let store = try ObjectStoreFixture()
        let pod = try PodWorld()
        let env = ["IMPORTER_SOURCE": "gcs", "IMPORTER_ENDPOINT": "gs://disks/disk.raw.gz",
                   "STORAGE_EMULATOR_HOST": "127.0.0.1:\(try store.fixtures["GCS_HTTP_PORT"])", "IMPORTER_IMAGE_SIZE": "16Mi", "FILESYSTEM_OVERHEAD": "0"]
        try expectImported(pod, try pod.run(env), qemuImgOf: store.local("disk.raw.gz"), store: store)
        let denied = try PodWorld().run(["IMPORTER_SOURCE": "gcs", "IMPORTER_ENDPOINT": try store.gcsGate() + "/disks/disk.raw",
                                         "IMPORTER_CERT_DIR": try store.fixtures["CERT_DIR"]])
        #expect(denied.status == 1 && denied.termination?.hasPrefix("Unable to connect to gcs data source: ") == true, "\(denied.termination ?? "")")
    }
}
