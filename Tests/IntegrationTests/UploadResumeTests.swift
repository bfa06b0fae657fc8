import Foundation
import Testing

/// Resumable uploads: tus 1.0 with tuspy (PyPI, in the venv scripts/fixtures/tus-venv makes) and with
/// `diskimport upload`, connections cut at random byte offsets by scripts/fault-proxy; the disk is exactly what
/// qemu-img makes of the image, neither a byte lost nor one repeated.
@Suite(.serialized) struct UploadResumeTests {
    static let venv: String? = try? Harness.tool(Qcow2Matrix.repositoryRoot + "/scripts/fixtures/tus-venv").stdout
        .trimmingCharacters(in: .whitespacesAndNewlines)

    /// Cut offsets for `count` connections (every other one left whole: HEAD and the like), at random byte offsets
    /// within `bytes` each, from a seed printed on failure. Keep `count × bytes` below the file's size: each PATCH
    /// sends only what is left, and must still reach its cut.
    static func cuts(seed: UInt64, count: Int, within bytes: Int) -> [Int] {
        var generator = SplitMix(seed: seed)
        return (0..<count).flatMap { _ in [Int(generator.next() % UInt64(bytes - 4096)) + 4096, 0] }
    }

    static let tusScript = """
        import sys
        from tusclient import client
        c = client.TusClient(sys.argv[1], client_cert=(sys.argv[3], sys.argv[4]))
        u = c.uploader(sys.argv[2], chunk_size=int(sys.argv[5]), retries=30, retry_delay=0.2, upload_checksum=sys.argv[6] == "1")
        u.upload()
        print(u.offset)
        """

    func tuspy(_ url: String, _ file: String, chunk: Int, checksum: Bool) throws -> Harness.Result {
        guard let venv = Self.venv else { throw HarnessError("scripts/fixtures/tus-venv failed") }
        var env = ProcessInfo.processInfo.environment
        env["REQUESTS_CA_BUNDLE"] = UploadPKI.file("ca.crt")
        return try Harness.run(venv + "/bin/python", ["-c", Self.tusScript, url, file, UploadPKI.file("client.crt"),
                                                      UploadPKI.file("client.key"), String(chunk), checksum ? "1" : "0"],
                               environment: env)
    }

    @Test(arguments: [(UInt64(1), "/v1beta1/upload-async"), (UInt64(2), "/v1beta1/upload")])
    func tuspyResumesAcrossCutsAtRandomOffsets(seed: UInt64, path: String) throws {
        let world = try UploadWorld()
        try world.start()
        let image = try UploadImages.wrapped(try UploadImages.qcow2(try UploadImages.raw(in: world.dir, mib: 24)), "gzip")
        let size = Int(try FileManager.default.attributesOfItem(atPath: image)[.size] as? Int ?? 0)
        // Connection 1 creates the upload; then each PATCH (the rest of the file) is cut, each HEAD passes.
        let proxy = try LoopbackScript.faultProxy(for: world, clientCuts: [0] + Self.cuts(seed: seed, count: 4, within: size / 5))
        let result = try tuspy("https://127.0.0.1:\(proxy.port)\(path)", image, chunk: 64 << 20, checksum: false)
        #expect(result.status == 0, "seed \(seed): \(result.stderr.suffix(2000))")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(size))
        #expect(proxy.entries.filter { $0["client_cut"] as? Bool == true }.count == 4, "\(proxy.entries)")
        let outcome = try world.outcome()
        #expect(outcome.status == 0 && outcome.termination?.contains("Upload Complete") == true, "\(outcome.log)")
        #expect(try Files.identical(world.diskImage, try UploadImages.oracle(image, in: world.dir)), "seed \(seed)")
    }

    @Test func tuspyWithChunkChecksumsAcrossCuts() throws {
        let world = try UploadWorld()
        try world.start()
        let image = try UploadImages.qcow2(try UploadImages.raw(in: world.dir, mib: 16))
        // 3 MiB chunks with Upload-Checksum: a cut chunk is dropped whole and sent again.
        let proxy = try LoopbackScript.faultProxy(for: world, clientCuts: [0, 0, 1_500_000, 0, 0, 2_900_000])
        let result = try tuspy("https://127.0.0.1:\(proxy.port)/v1beta1/upload", image, chunk: 3 << 20, checksum: true)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(try world.outcome().status == 0)
        #expect(try Files.identical(world.diskImage, try UploadImages.oracle(image, in: world.dir)))
    }

    @Test func tusByHandWithCurl() throws {
        let world = try UploadWorld()
        try world.start()
        let image = try UploadImages.raw(in: world.dir, mib: 2)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: image))
        let first = world.dir.file("first"), second = world.dir.file("second")
        try bytes.prefix(1 << 20).write(to: URL(fileURLWithPath: first))
        try bytes.dropFirst(1 << 20).write(to: URL(fileURLWithPath: second))
        let url = world.baseURL + "/v1beta1/upload"
        let tus = ["-H", "Tus-Resumable: 1.0.0"]
        // Creation needs the client certificate, and an Upload-Length.
        #expect(try world.curl(["-X", "POST"] + tus + ["-H", "Upload-Length: \(bytes.count)", url]).status == 401)
        #expect(try world.curl(["-X", "POST"] + tus + [url], as: .proxy).status == 400)
        let created = try world.curl(["-X", "POST"] + tus + ["-H", "Upload-Length: \(bytes.count)", url], as: .proxy)
        #expect(created.status == 201 && created.headers.contains("Location: /v1beta1/upload"), "\(created.headers)")
        let patch = ["-X", "PATCH"] + tus + ["-H", "Content-Type: application/offset+octet-stream"]
        // A chunk whose Upload-Checksum does not match: 460, nothing kept.
        let badSum = "sha1 " + Data(repeating: 1, count: 20).base64EncodedString()
        let rejected = try world.curl(patch + ["-H", "Upload-Offset: 0", "-H", "Upload-Checksum: \(badSum)", "--data-binary", "@" + first, url], as: .proxy)
        #expect(rejected.status == 460, "\(rejected)")
        // The wrong offset: 409; the wrong content type: 415.
        #expect(try world.curl(patch + ["-H", "Upload-Offset: 5", "--data-binary", "@" + first, url], as: .proxy).status == 409)
        #expect(try world.curl(["-X", "PATCH"] + tus + ["-H", "Upload-Offset: 0", "--data-binary", "@" + first, url], as: .proxy).status == 415)
        let head = try world.curl(["-I"] + tus + [url], as: .proxy)
        #expect(head.status == 200 && head.headers.contains("Upload-Offset: 0") && head.headers.contains("Upload-Length: \(bytes.count)"))
        // The first half with a good checksum, then the rest.
        let sum = "sha1 " + (try Harness.tool("sh", "-c", "openssl dgst -sha1 -binary '\(first)' | base64").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines))
        let one = try world.curl(patch + ["-H", "Upload-Offset: 0", "-H", "Upload-Checksum: \(sum)", "--data-binary", "@" + first, url], as: .proxy)
        #expect(one.status == 204 && one.headers.contains("Upload-Offset: \(1 << 20)"), "\(one)")
        // A second creation while this upload is in progress: 503.
        #expect(try world.curl(["-X", "POST"] + tus + ["-H", "Upload-Length: 5", url], as: .proxy).status == 503)
        let two = try world.curl(patch + ["-H", "Upload-Offset: \(1 << 20)", "--data-binary", "@" + second, url], as: .proxy)
        #expect(two.status == 204 && two.headers.contains("Upload-Offset: \(bytes.count)"), "\(two)")
        #expect(try world.outcome().status == 0)
        #expect(try Files.identical(world.diskImage, image))
    }

    // MARK: the client

    @Test func clientThroughCDIsUploadProxyResumesWithTus() throws {
        let world = try UploadWorld()
        try world.start()
        let token = "tok-\(UUID().uuidString)"
        let tokenFile = world.dir.file("token")
        try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: tokenFile))
        let proxy = try LoopbackScript.uploadProxy(for: world, tokenFile: tokenFile)
        let image = try UploadImages.wrapped(try UploadImages.qcow2(try UploadImages.raw(in: world.dir, mib: 16)), "zstd")
        let size = Int(try FileManager.default.attributesOfItem(atPath: image)[.size] as? Int ?? 0)
        // Cuts between the client and the proxy: HEAD probe, OPTIONS, creation pass; PATCHes are cut.
        let cutter = try LoopbackScript("scripts/fault-proxy", ["--target", "127.0.0.1:\(proxy.port)", "--client-cuts",
            ([0, 0, 0] + Self.cuts(seed: 7, count: 3, within: size / 4)).map(String.init).joined(separator: ",")])
        // Without the token, the proxy refuses; the client says so in one line.
        let refused = try Harness.run(Harness.binary, ["upload", image, "https://127.0.0.1:\(proxy.port)", "--ca-file", UploadPKI.file("ca.crt")])
        #expect(refused.status == 1 && refused.stderr.contains("400"), "\(refused.stderr)")
        let result = try Harness.run(Harness.binary, ["upload", image, "127.0.0.1:\(cutter.port)", "--ca-file", UploadPKI.file("ca.crt"),
                                                      "--token-file", tokenFile, "--no-progress"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("(tus, resumed 3 times)"), "\(result.stdout)")
        #expect(!(result.stdout + result.stderr + refused.stderr).contains(token))
        #expect(try world.outcome().status == 0)
        #expect(try Files.identical(world.diskImage, try UploadImages.oracle(image, in: world.dir)))
        // Every request with the token went to the async endpoint, as virtctl's probe chose.
        let paths = Set(proxy.entries.filter { $0["status"] as? Int != 400 }.compactMap { $0["path"] as? String })
        #expect(paths == ["/v1beta1/upload-async"], "\(paths)")
    }

    @Test func clientWithoutTusRetriesTheWholeFile() throws {
        let world = try UploadWorld()
        try world.start()
        let image = try UploadImages.qcow2(try UploadImages.raw(in: world.dir, mib: 12))
        let proxy = try LoopbackScript.faultProxy(for: world, clientCuts: [0, 2_000_000, 3_000_000])
        let result = try Harness.run(Harness.binary, [
            "upload", image, "https://127.0.0.1:\(proxy.port)", "--no-resume", "--ca-file", UploadPKI.file("ca.crt"),
            "--client-cert", UploadPKI.file("client.crt"), "--client-key", UploadPKI.file("client.key"),
            "--checksum", "sha256:" + (try Harness.tool("sha256sum", image).stdout.prefix(64)), "--progress",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        // --progress with stderr not a terminal: plain lines, the last one the whole file, no bar's escapes.
        #expect(result.stderr.contains("diskimport: progress: 100% "), "\(result.stderr)")
        #expect(!result.stderr.contains("\u{1B}["))
        // Two cut attempts (a retry may also meet a 503 while the server is still dropping the broken upload).
        #expect(result.stdout.contains("(plain POST, ") && result.stdout.contains(" retries)"), "\(result.stdout)")
        #expect(try world.outcome().status == 0)
        #expect(try Files.identical(world.diskImage, try UploadImages.oracle(image, in: world.dir)))
    }

    @Test func clientReportsTheServersRefusal() throws {
        let world = try UploadWorld()
        try world.start(["UPLOAD_IMAGE_SIZE": "2Mi"])
        let image = try UploadImages.qcow2(try UploadImages.raw(in: world.dir, mib: 8))
        let args = ["upload", image, world.baseURL, "--client-cert", UploadPKI.file("client.crt"), "--client-key", UploadPKI.file("client.key")]
        // An untrusted server certificate: one line, no retries.
        let untrusted = try Harness.run(Harness.binary, args)
        #expect(untrusted.status == 1 && untrusted.stderr.contains("TLS certificate verification failed"), "\(untrusted.stderr)")
        // Too large for the volume: CDI's text, at once (a 400 is not retried).
        let tooLarge = try Harness.run(Harness.binary, args + ["--insecure"])
        #expect(tooLarge.status == 1, "\(tooLarge.stderr)")
        #expect(tooLarge.stderr.contains("effective image size is larger than the reported available storage"), "\(tooLarge.stderr)")
        #expect(tooLarge.stderr.contains("TLS certificate verification is disabled"))
        #expect(try world.dataEntries().isEmpty)
    }
}

/// A small deterministic generator (SplitMix64), so a failing cut pattern can be replayed from its seed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
