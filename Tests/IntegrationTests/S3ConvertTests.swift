import Foundation
import Testing

/// `convert s3://…` and `info s3://…` against moto with SigV4 verified (scripts/fixtures/s3-server.py), every
/// output byte-identical to qemu-img's conversion of the same object.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct S3ConvertTests {
    @Test(arguments: ["disk.qcow2.xz", "disk.qcow2", "disk.raw.gz", "disk.raw.blocks.xz", "disk.qcow2.zst"])
    func aSignedObjectConvertsOverHTTPS(object: String) throws {
        let s3 = try ObjectStoreFixture()
        let result = try s3.convert("s3://disks/\(object)", try s3.s3Flags() + ["--json"])
        try s3.expectIdentical(result, toQemuImgOf: s3.local(object))
        #expect(result.stdout.contains("\"scratch-bytes\":0"), "\(result.stdout)")
    }

    /// http turns TLS off; AWS's variables give the keys, the session token and the endpoint.
    @Test func awsVariablesGiveTheCredentialsAndEndpointOverPlainHTTP() throws {
        let s3 = try ObjectStoreFixture()
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = try s3.fixtures.contents(of: "S3_SESSION_ACCESS_KEY_FILE")
        environment["AWS_SECRET_ACCESS_KEY"] = try s3.fixtures.contents(of: "S3_SESSION_SECRET_KEY_FILE")
        environment["AWS_SESSION_TOKEN"] = try s3.fixtures.contents(of: "S3_SESSION_TOKEN_FILE")
        environment["AWS_ENDPOINT_URL"] = try s3.s3Endpoint(https: false)
        let result = try s3.convert("s3://disks/disk.qcow2", ["-v", "--progress"], environment: environment)
        try s3.expectIdentical(result, toQemuImgOf: s3.local("disk.qcow2"))
        try s3.expectNoSecrets(result)
        // Progress on a pipe: plain lines, the last one at 100%.
        let progress = result.stderr.split(separator: "\n").filter { $0.hasPrefix("diskimport: progress: ") }
        #expect(progress.last?.hasPrefix("diskimport: progress: 100% ") == true, "\(result.stderr)")
        #expect(try s3.log("S3_LOG").contains { $0["session_token"] as? Bool == true && $0["status"] as? Int == 200 })
    }

    @Test func aKeyWithSpacesAndUnicode() throws {
        let s3 = try ObjectStoreFixture()
        let key = try s3.fixtures["S3_ODD_KEY"]
        try s3.expectIdentical(try s3.convert("s3://disks/\(key)", try s3.s3Flags()), toQemuImgOf: s3.local("disk.qcow2"))
        let info = try Harness.run(Harness.binary, ["info", "s3://disks/\(key)", "--output", "json"] + (try s3.s3Flags()))
        #expect(info.status == 0 && info.stdout.contains("\"format\":\"qcow2\""), "\(info.stderr)")
    }

    @Test func infoDescribesTheObjectFromItsHead() throws {
        let s3 = try ObjectStoreFixture()
        let info = try Harness.run(Harness.binary, ["info", "s3://disks/disk.qcow2.xz"] + (try s3.s3Flags()))
        #expect(info.status == 0, "\(info.stderr)")
        #expect(info.stdout.contains("image: s3://disks/disk.qcow2.xz") && info.stdout.contains("layers: xz > qcow2"), "\(info.stdout)")
    }

    /// Each refusal is one line naming S3's reason, no target is left, no secret printed.
    @Test func refusalsNameTheirCause() throws {
        let s3 = try ObjectStoreFixture()
        let wrong = s3.directory.file("wrong-secret")
        try (try s3.fixtures.contents(of: "S3_SECRET_KEY_FILE") + "x").write(toFile: wrong, atomically: true, encoding: .utf8)
        let reader = try s3.s3Flags()
        let endpoint = ["--s3-endpoint", try s3.s3Endpoint(), "--ca-file", try s3.fixtures["CA_FILE"]]
        let cases: [(String, [String], String)] = [
            ("s3://disks/disk.raw", endpoint + ["--access-key-file", try s3.fixtures["S3_ACCESS_KEY_FILE"], "--secret-key-file", wrong], "SignatureDoesNotMatch"),
            ("s3://disks/disk.raw", endpoint + ["--access-key-file", try s3.fixtures["S3_NOBODY_ACCESS_KEY_FILE"],
                                                "--secret-key-file", try s3.fixtures["S3_NOBODY_SECRET_KEY_FILE"]], "AccessDenied"),
            ("s3://disks/missing.qcow2", reader, "NoSuchKey"),
            ("s3://no-such-bucket/disk.raw", reader, "NoSuchBucket"),
            ("s3://disks/disk.raw", endpoint + ["--access-key-file", try s3.fixtures["S3_EXPIRED_ACCESS_KEY_FILE"],
                                                "--secret-key-file", try s3.fixtures["S3_EXPIRED_SECRET_KEY_FILE"],
                                                "--session-token-file", try s3.fixtures["S3_EXPIRED_TOKEN_FILE"]], "ExpiredToken"),
        ]
        for (source, flags, message) in cases {
            try s3.expectFailure(try s3.convert(source, flags + ["-v"]), containing: message)
            let quiet = try s3.convert(source, flags)
            try s3.expectFailure(quiet, containing: message)
            #expect(quiet.stderr.split(separator: "\n").count == 1, "\(quiet.stderr)")
        }
    }

    /// The bucket is in eu-west-1 and the request is signed for us-east-1: S3's answer names the region, the
    /// request is signed again for it once, and the import completes.
    @Test func aWrongRegionIsFollowedOnce() throws {
        let s3 = try ObjectStoreFixture()
        let result = try s3.convert("s3://disks-eu/disk.qcow2", try s3.s3Flags() + ["--region", "us-east-1"])
        try s3.expectIdentical(result, toQemuImgOf: s3.local("disk.qcow2"))
    }

    /// Three cuts mid-body (scripts/fault-proxy): each resume is a ranged GET with If-Match on the ETag, signed
    /// afresh, and moto verifies every signature.
    @Test func cutsAreResumedWithSignedRangedRequests() throws {
        let s3 = try ObjectStoreFixture()
        // Two connections are too short to be cut: the HEAD, and the ranged read of a raw image's last sector (a DMG
        // is refused before anything is written); the GET is cut at 0.7, 1.4 and 2.1 MB.
        let key = try s3.putS3("cut-\(UUID().uuidString).raw", contentsOf: s3.local("disk.raw"))
        let proxy = try FaultProxy(s3.fixtures, target: try s3.fixtures["S3_HTTP_PORT"], ["--cut-after", "700000", "--cuts", "5"])
        let result = try s3.convert("s3://disks/\(key)", try s3.s3Flags(https: false, port: proxy.port))
        try s3.expectIdentical(result, toQemuImgOf: s3.local("disk.raw"))
        #expect(proxy.connections.filter { $0["fault"] as? String == "cut" && ($0["server_bytes"] as? Int ?? 0) >= 700_000 }.count == 3)
        // A resume asks for the rest (bytes=N-); the trailer's read is a closed range.
        let resumed = try s3.log("S3_LOG").filter { ($0["path"] as? String)?.hasSuffix(key) == true && ($0["range"] as? String)?.hasSuffix("-") == true }
        #expect(resumed.count == 3 && resumed.allSatisfy { $0["status"] as? Int == 206 && $0["signed"] as? Bool == true && $0["if_match"] is String },
                "\(resumed)")
    }

    /// With --http-random-access a plain qcow2 is read at its offsets (tables, then allocated clusters) by GETs
    /// that are ranged, signed and pinned with If-Match to the ETag the HEAD found; moto checks every signature.
    @Test func aPlainQcow2IsReadBySignedRangedGetsWhenAsked() throws {
        let s3 = try ObjectStoreFixture()
        let key = try s3.putS3("ranged-\(UUID().uuidString).qcow2", contentsOf: s3.local("disk.qcow2"))
        let result = try s3.convert("s3://disks/\(key)", try s3.s3Flags() + ["--http-random-access", "--json"])
        try s3.expectIdentical(result, toQemuImgOf: s3.local("disk.qcow2"))
        #expect(result.stdout.contains("\"scratch-bytes\":0"), "\(result.stdout)")
        let ranged = try s3.log("S3_LOG").filter { ($0["path"] as? String)?.hasSuffix(key) == true && $0["range"] is String }
        #expect(ranged.count >= 2, "\(ranged)")
        #expect(ranged.allSatisfy { $0["status"] as? Int == 206 && $0["signed"] as? Bool == true && $0["if_match"] is String }, "\(ranged)")
    }

    /// info of raw inside xz reads the xz index at the object's end with a signed ranged GET: the virtual size
    /// without decompressing the object.
    @Test func infoSizesRawInsideXzFromItsIndex() throws {
        let s3 = try ObjectStoreFixture()
        let info = try Harness.run(Harness.binary, ["info", "s3://disks/disk.raw.xz", "--output", "json"] + (try s3.s3Flags()))
        #expect(info.status == 0, "\(info.stderr)")
        let raw = try #require(FileManager.default.attributesOfItem(atPath: try s3.local("disk.raw"))[.size] as? Int)
        #expect(info.stdout.contains("\"virtual-size\":\(raw),") && info.stdout.contains("\"layers\":[\"xz\",\"raw\"]"), "\(info.stdout)")
    }

    @Test func anObjectChangedDuringTheDownloadIsAnError() throws {
        let s3 = try ObjectStoreFixture()
        let key = try s3.putS3("changing-\(UUID().uuidString).raw", contentsOf: s3.local("disk.raw"))
        let change = "curl -s -X POST http://127.0.0.1:\(try s3.fixtures["S3_HTTP_PORT"])/_diskimport/put/disks/\(key)"
        let proxy = try FaultProxy(s3.fixtures, target: try s3.fixtures["S3_HTTP_PORT"], ["--cut-after", "1500000", "--cuts", "2", "--on-cut", change])
        let result = try s3.convert("s3://disks/\(key)", try s3.s3Flags(https: false, port: proxy.port))
        try s3.expectFailure(result, containing: "changed on the server during the download")
    }

    @Test func checksumsAreVerifiedOverTheObjectsBytes() throws {
        let s3 = try ObjectStoreFixture()
        let digest = try Harness.tool("sha256sum", try s3.local("disk.qcow2.gz")).stdout.prefix(64)
        try s3.expectIdentical(try s3.convert("s3://disks/disk.qcow2.gz", try s3.s3Flags() + ["--checksum", "sha256:\(digest)"]),
                               toQemuImgOf: s3.local("disk.qcow2.gz"))
        let wrong = String(repeating: "0", count: 64)
        try s3.expectFailure(try s3.convert("s3://disks/disk.qcow2.gz", try s3.s3Flags() + ["--checksum", "sha256:\(wrong)"], target: "wrong.img"),
                             containing: "checksum", target: "wrong.img")
    }

    /// A qcow2 of 5 GiB virtual size (data below and above 4 GiB) stored as a few MiB: streamed into a sparse
    /// target of 5 GiB that allocates only the data, identical to qemu-img's conversion.
    @Test func aFiveGiBSparseQcow2StreamsIntoASparseTarget() throws {
        let s3 = try ObjectStoreFixture()
        let result = try s3.convert("s3://disks/sparse-5g.qcow2", try s3.s3Flags())
        try s3.expectIdentical(result, toQemuImgOf: try s3.fixtures["SPARSE_DIR"] + "/sparse-5g.qcow2")
        let target = s3.directory.file("out.img")
        #expect(try FileManager.default.attributesOfItem(atPath: target)[.size] as? UInt64 == 5 << 30)
        #expect(try Files.allocatedBytes(target) < 16 << 20)
    }

    /// 5 GiB of raw inside zstd (concatenated frames): the decoded length is known only at the end.
    @Test func aFiveGiBRawZstdStreamsIntoASparseTarget() throws {
        let s3 = try ObjectStoreFixture()
        let result = try s3.convert("s3://disks/sparse-5g.raw.zst", try s3.s3Flags())
        #expect(result.status == 0, "\(result.stderr)")
        let target = s3.directory.file("out.img")
        let sparse = try s3.fixtures["SPARSE_DIR"]
        #expect(try FileManager.default.attributesOfItem(atPath: target)[.size] as? UInt64 == (5 << 30) + (2 << 20))
        #expect(try Files.allocatedBytes(target) < 16 << 20)
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: target))
        defer { try? head.close() }
        #expect(try head.read(upToCount: 1 << 20) == Data(contentsOf: URL(fileURLWithPath: sparse + "/sparse-head.bin")))
        try head.seek(toOffset: (5 << 30) + (1 << 20))
        #expect(try head.read(upToCount: 1 << 20) == Data(contentsOf: URL(fileURLWithPath: sparse + "/sparse-high.bin")))
    }
}
