import Foundation
import Testing

/// `diskimport upload-server` as CDI's upload proxy and virtctl meet it, with curl as the client: real TLS with a
/// client CA made by openssl, CDI's endpoints and status codes, the termination message.
@Suite(.serialized) struct UploadServerEndpointTests {
    /// A small tar of two files, one of them a few MiB (so its body takes several reads).
    static func archive(in dir: TemporaryDirectory) throws -> (tar: String, big: String) {
        let tree = dir.file("tree")
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: URL(fileURLWithPath: tree + "/a.txt"))
        try Harness.tool("sh", "-c", "head -c 3145728 /dev/urandom > '\(tree)/sub/big'")
        let tar = dir.file("archive.tar")
        try Harness.tool("tar", "-C", tree, "-cf", tar, "a.txt", "sub")
        return (tar, tree + "/sub/big")
    }

    @Test func clientCertificatesAreCheckedAsCDIDoes() throws {
        let world = try UploadWorld()
        try world.start()
        let (tar, _) = try Self.archive(in: world.dir)
        // /healthz needs no certificate (the kubelet's readiness probe has none).
        let health = try world.curl([world.baseURL + "/healthz"])
        #expect(health.status == 200 && health.body == "OK")
        // No certificate, or one with another name: 401, nothing written.
        let upload = ["-X", "POST", "--data-binary", "@" + tar, world.baseURL + "/v1beta1/upload-archive"]
        #expect(try world.curl(upload).status == 401)
        #expect(try world.curl(upload, as: .wrongName).status == 401)
        // A certificate from another CA does not get through the handshake.
        let stranger = try world.curl(upload, as: .stranger)
        #expect(stranger.status == 0, "\(stranger)")
        #expect(try world.dataEntries().isEmpty)
        #expect(world.serverLog.contains("someone-else.example"))
        // The upload proxy's certificate: the archive is extracted, the server exits with CDI's message.
        #expect(try world.curl(upload, as: .proxy).status == 200)
        let outcome = try world.outcome()
        #expect(outcome.status == 0)
        #expect(outcome.termination == #"{"preallocationApplied":false,"message":"Upload Complete"}"#)
        #expect(try world.dataEntries() == ["a.txt", "sub"])
    }

    @Test func methodsAndPathsAnswerAsCDIsMux() throws {
        let world = try UploadWorld()
        try world.start()
        let base = world.baseURL
        // virtctl's probe of the async endpoint: 200 before any check; the sync one has no HEAD.
        #expect(try world.curl(["-I", base + "/v1beta1/upload-async"]).status == 200)
        #expect(try world.curl(["-I", base + "/v1alpha1/upload-async"]).status == 200)
        #expect(try world.curl(["-I", base + "/v1beta1/upload"], as: .proxy).status == 404)
        #expect(try world.curl([base + "/v1beta1/upload"], as: .proxy).status == 404)
        #expect(try world.curl(["-X", "PUT", "--data-binary", "x", base + "/v1beta1/upload-form"], as: .proxy).status == 404)
        #expect(try world.curl([base + "/v1beta1/nothing"], as: .proxy).status == 404)
        #expect(try world.curl([base + "/"], as: .proxy).status == 404)
        // tus discovery on the raw endpoints only.
        let options = try world.curl(["-X", "OPTIONS", base + "/v1beta1/upload-async"])
        #expect(options.status == 204)
        #expect(options.headers.contains("Tus-Version: 1.0.0"))
        #expect(options.headers.contains("Tus-Extension: creation,checksum"))
        #expect(try world.curl(["-X", "OPTIONS", base + "/v1beta1/upload-form"]).status == 404)
        // A tus request in a version the server does not speak: 412 with the versions it does.
        let old = try world.curl(["-X", "POST", "-H", "Tus-Resumable: 0.2.2", "-H", "Upload-Length: 5", base + "/v1beta1/upload"], as: .proxy)
        #expect(old.status == 412 && old.headers.contains("Tus-Version: 1.0.0"))
        #expect(world.isRunning)
    }

    @Test func concurrentUploadIs503AndLateUploadIs409() throws {
        let world = try UploadWorld()
        try world.start([:], arguments: ["--grace-period", "5"])
        let (tar, _) = try Self.archive(in: world.dir)
        // A slow first upload (curl limited to 256 KiB/s: about 12 s for the 3 MiB archive) holds the server...
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--limit-rate", "256k", "--cacert", UploadPKI.file("ca.crt"),
                          "--cert", UploadPKI.file("client.crt"), "--key", UploadPKI.file("client.key"),
                          "-X", "POST", "--data-binary", "@" + tar, world.baseURL + "/v1beta1/upload-archive"]
        let slowOut = Pipe()
        slow.standardOutput = slowOut
        try slow.run()
        let deadline = Date().addingTimeInterval(20)
        while !world.serverLog.contains("upload started"), Date() < deadline { usleep(20_000) }
        // ...so a second one is refused with 503, whatever its endpoint, and leaves the first alone.
        let second = try world.post(tar, to: "/v1beta1/upload-archive")
        #expect(second.status == 503)
        #expect(try world.post(tar, to: "/v1beta1/upload").status == 503)
        slow.waitUntilExit()
        #expect(String(decoding: slowOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "200")
        // After completion (within the grace period): 409.
        #expect(try world.post(tar, to: "/v1beta1/upload-archive").status == 409)
        let outcome = try world.outcome()
        #expect(outcome.status == 0 && outcome.termination?.contains("Upload Complete") == true)
        #expect(try world.dataEntries() == ["a.txt", "sub"])
    }

    @Test func deadlineWithoutUploadEndsWithDeadlinePassed() throws {
        let world = try UploadWorld()
        var format = DateFormatter()
        format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        try world.start(["DEADLINE": format.string(from: Date().addingTimeInterval(3))])
        let outcome = try world.outcome(within: 30)
        #expect(outcome.status == 0)
        #expect(outcome.termination == #"{"deadlinePassed":true,"message":"Deadline Passed"}"#)
        #expect(try world.dataEntries().isEmpty)
    }

    @Test func badEnvironmentIsOneLineAndExit1() throws {
        let world = try UploadWorld()
        let cases: [([String: String?], String)] = [
            (["TLS_CERT_FILE": nil], "invalid TLS config"),
            (["TLS_KEY_FILE": world.dir.file("missing.key")], "TLS_KEY_FILE"),
            (["PREALLOCATION": "maybe"], "PREALLOCATION"),
            (["UPLOAD_IMAGE_SIZE": "ten gigs"], "UPLOAD_IMAGE_SIZE"),
            (["DEADLINE": "soon"], "Failed to parse deadline"),
        ]
        for (change, message) in cases {
            let result = try Harness.run(Harness.binary, ["upload-server", "--data-dir", world.dataDirectory,
                                                          "--termination-log", world.terminationLog], environment: world.environment(change))
            #expect(result.status == 1, "\(change)")
            #expect(result.stderr.contains(message), "\(change): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(change): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: world.terminationLog))
    }
}
