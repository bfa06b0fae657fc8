import Foundation
import Testing

/// Connections cut at random offsets (issue 18 §3), through scripts/fault-proxy: an HTTPS file and a registry's
/// manifests, token and blob over TLS, where a cut at a random byte almost always lands inside a TLS record, and
/// early offsets land in the handshake or the response head. Each import resumes to the same bytes, or fails with one
/// line and no target. The offsets come from a printed seed (DISKIMPORT_FAULT_SEED replays them).
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct FaultSourceTests {
    /// Offsets: a few inside the first TLS records (handshake, head), the rest anywhere in the first 3 MiB.
    static func offsets(_ random: inout FaultRandom) -> [Int] {
        [Int.random(in: 1...6000, using: &random), Int.random(in: 6000...40000, using: &random)]
            + (0..<3).map { _ in Int.random(in: 40000...3_000_000, using: &random) }
    }

    @Test(arguments: [false, true])
    func anHTTPSDownloadCutAtRandomOffsets(reset: Bool) throws {
        var random = FaultRandom()
        print("FaultSourceTests.anHTTPSDownloadCutAtRandomOffsets(reset: \(reset)): seed \(random.seed)")
        try Self.download(cutAt: Self.offsets(&random), reset: reset)
    }

    /// Cuts inside the server's handshake flight (ServerHello, certificate, Finished: the first ~2 KB), which once
    /// failed as a non-retryable TLS error (DISKIMPORT_FAULT_SEED=7852880990100983811): a close or reset there is
    /// a dropped connection, and the import resumes.
    @Test(arguments: [false, true])
    func anHTTPSDownloadCutInsideTheTLSHandshake(reset: Bool) throws {
        try Self.download(cutAt: [1, 5, 90, 700, 1290, 1800], reset: reset)
    }

    /// Downloads the fixtures' private disk through a proxy that cuts the first two connections after each offset.
    static func download(cutAt offsets: [Int], reset: Bool) throws {
        let http = try HTTPFixture()
        for offset in offsets {
            let proxy = try FaultProxy(http.fixtures, target: try http.fixtures["FILES_PORT"],
                                       ["--cut-after", String(offset), "--cuts", "2"] + (reset ? ["--reset"] : []))
            let target = "cut-\(offset).img"
            let result = try http.convert(try http.files("private/disk.raw", port: String(proxy.port)), try http.trust + http.login,
                                          target: target)
            #expect(result.status == 0, "cut after \(offset) bytes: \(result.stderr)")
            #expect(try Files.identical(try http.diskRaw, http.directory.file(target)), "cut after \(offset) bytes")
            #expect(proxy.connections.filter { $0["fault"] as? String == "cut" }.count >= 1, "offset \(offset): \(proxy.connections)")
            try? FileManager.default.removeItem(atPath: http.directory.file(target))
        }
    }

    /// S3 over TLS behind the proxy, cut at random offsets: the HEAD, the trailer's ranged read and the GET die
    /// wherever the offset falls, and every resume is a signed ranged GET that moto verifies.
    @Test func anS3GetCutAtRandomOffsets() throws {
        var random = FaultRandom()
        print("FaultSourceTests.anS3GetCutAtRandomOffsets: seed \(random.seed)")
        let s3 = try ObjectStoreFixture()
        let key = try s3.putS3("random-cut-\(UUID().uuidString).raw", contentsOf: s3.local("disk.raw"))
        for offset in Self.offsets(&random) {
            let proxy = try FaultProxy(s3.fixtures, target: try s3.fixtures["S3_HTTPS_PORT"], ["--cut-after", String(offset), "--cuts", "2"])
            let target = "cut-\(offset).img"
            let result = try s3.convert("s3://disks/\(key)", try s3.s3Flags(https: true, port: proxy.port), target: target)
            #expect(result.status == 0, "cut after \(offset) bytes: \(result.stderr)")
            try s3.expectIdentical(result, toQemuImgOf: s3.local("disk.raw"), target: target)
            #expect(proxy.connections.filter { $0["fault"] as? String == "cut" }.count >= 1, "offset \(offset): \(proxy.connections)")
            try? FileManager.default.removeItem(atPath: s3.directory.file(target))
        }
    }

    /// The registry behind the proxy: every connection until two have been cut dies at the offset, whichever
    /// request it carries (ping, token, manifest, blob).
    @Test func aRegistryPullCutAtRandomOffsets() throws {
        var random = FaultRandom()
        print("FaultSourceTests.aRegistryPullCutAtRandomOffsets: seed \(random.seed)")
        let registry = try RegistryFixture()
        for offset in Self.offsets(&random) {
            let proxy = try FaultProxy(registry.fixtures, target: try registry.fixtures["REG_BASIC_PORT"], ["--cut-after", String(offset), "--cuts", "2"])
            let source = "docker://127.0.0.1:\(proxy.port)/containerdisks/test:latest"
            let target = "cut-\(offset).img"
            let result = try registry.convert(source, try registry.trust + registry.login + ["--arch", "amd64"], target: target)
            #expect(result.status == 0, "cut after \(offset) bytes: \(result.stderr)")
            if result.status == 0 {
                #expect(try Files.identical(try registry.oracle("amd64"), registry.directory.file(target)), "cut after \(offset) bytes")
            }
            #expect(proxy.connections.filter { $0["fault"] as? String == "cut" }.count >= 1, "offset \(offset): \(proxy.connections)")
            try? FileManager.default.removeItem(atPath: registry.directory.file(target))
        }
    }
}
