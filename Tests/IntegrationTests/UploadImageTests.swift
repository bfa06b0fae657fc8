import Foundation
import Testing

/// Disk images uploaded to `diskimport upload-server` with curl: every format streams from the request body through
/// the readers `convert` uses, into exactly the bytes `qemu-img convert -O raw` writes, without scratch.
@Suite(.serialized) struct UploadImageTests {
    struct Case: CustomStringConvertible, Sendable {
        var format: String
        var path: String
        var description: String { "\(format) to \(path)" }
    }

    /// Each format through another endpoint (every endpoint and alias is used once).
    static let cases: [Case] = [
        Case(format: "raw", path: "/v1beta1/upload"),
        Case(format: "qcow2", path: "/v1beta1/upload-async"),
        Case(format: "qcow2.gz", path: "/v1alpha1/upload"),
        Case(format: "qcow2.xz", path: "/v1beta1/upload-form"),
        Case(format: "qcow2.zst", path: "/v1beta1/upload-form-async"),
        Case(format: "compressed.qcow2", path: "/v1alpha1/upload-async"),
        Case(format: "raw.xz", path: "/v1alpha1/upload-form"),
        Case(format: "raw.zst", path: "/v1alpha1/upload-form-async"),
    ]

    static func image(_ format: String, in dir: TemporaryDirectory) throws -> String {
        let raw = try UploadImages.raw(in: dir, mib: 12)
        switch format {
        case "raw": return raw
        case "qcow2": return try UploadImages.qcow2(raw)
        case "compressed.qcow2": return try UploadImages.qcow2(raw, compressed: true)
        case "qcow2.gz": return try UploadImages.wrapped(try UploadImages.qcow2(raw), "gzip")
        case "qcow2.xz": return try UploadImages.wrapped(try UploadImages.qcow2(raw), "xz")
        case "qcow2.zst": return try UploadImages.wrapped(try UploadImages.qcow2(raw), "zstd")
        case "raw.xz": return try UploadImages.wrapped(raw, "xz")
        case "raw.zst": return try UploadImages.wrapped(raw, "zstd")
        default: throw HarnessError("no image format \(format)")
        }
    }

    @Test(arguments: cases) func everyFormatThroughEveryEndpoint(_ c: Case) throws {
        let world = try UploadWorld()
        try world.start()
        let image = try Self.image(c.format, in: world.dir)
        let response = c.path.contains("form")
            ? try world.curl(["-F", "note=ignored", "-F", "file=@\(image)", world.baseURL + c.path], as: .proxy)
            : try world.post(image, to: c.path)
        #expect(response.status == 200, "\(response.body) \(world.serverLog)")
        let outcome = try world.outcome()
        #expect(outcome.status == 0)
        #expect(outcome.termination == #"{"preallocationApplied":false,"message":"Upload Complete"}"#)
        #expect(try Files.identical(world.diskImage, try UploadImages.oracle(image, in: world.dir)))
        // CDI's resize phase leaves the disk at 0660; nothing went to a scratch volume (there is none mounted).
        let mode = try FileManager.default.attributesOfItem(atPath: world.diskImage)[.posixPermissions] as? Int
        #expect(mode == 0o660)
        #expect(try world.dataEntries() == ["disk.img"])
    }

    @Test func imageLargerThanTheVolumeIs400AndTheServerGoesOn() throws {
        let world = try UploadWorld()
        try world.start(["UPLOAD_IMAGE_SIZE": "4Mi"])
        let dir = world.dir
        let big = try UploadImages.qcow2(try UploadImages.raw(in: dir, mib: 12))
        let response = try world.post(big)
        #expect(response.status == 400)
        #expect(response.body.hasPrefix("Saving stream failed: effective image size is larger than the reported available storage"),
                "\(response.body)")
        #expect(try world.dataEntries().isEmpty)
        // The failed upload is over: the next one, small enough, is taken.
        let small = try UploadImages.qcow2(try UploadImages.raw(in: dir, mib: 2, name: "small.raw"))
        #expect(try world.post(small).status == 200)
        #expect(try world.outcome().status == 0)
        // The disk grows to the requested size, as CDI's resize phase does.
        let size = try FileManager.default.attributesOfItem(atPath: world.diskImage)[.size] as? Int
        #expect(size == 4 << 20)
    }

    @Test func bodyShorterThanItsContentLengthLeavesNoDisk() throws {
        let world = try UploadWorld()
        try world.start()
        let image = try UploadImages.raw(in: world.dir, mib: 4)
        let script = """
            import socket, ssl, sys
            ctx = ssl.create_default_context(cafile=sys.argv[1]); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[4]))), server_hostname="127.0.0.1")
            data = open(sys.argv[5], "rb").read(300000)
            s.sendall(b"POST /v1beta1/upload HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: application/octet-stream\\r\\n"
                      b"Content-Length: 4194304\\r\\n\\r\\n" + data)
            s.close()
            """
        try Harness.tool("python3", "-c", script, UploadPKI.file("ca.crt"), UploadPKI.file("client.crt"),
                         UploadPKI.file("client.key"), String(world.port), image)
        let deadline = Date().addingTimeInterval(20)
        while !world.serverLog.contains("Saving stream failed"), Date() < deadline { usleep(20_000) }
        #expect(world.serverLog.contains("the connection closed after 300000 of 4194304 bytes"), "\(world.serverLog)")
        #expect(try world.dataEntries().isEmpty)
        #expect(world.isRunning)
        // A whole upload afterwards is taken.
        #expect(try world.post(image).status == 200)
        #expect(try world.outcome().status == 0)
        #expect(try Files.identical(world.diskImage, image))
    }

    @Test func malformedMultipartIs400() throws {
        let world = try UploadWorld()
        try world.start()
        let image = try UploadImages.raw(in: world.dir, mib: 1)
        let url = world.baseURL + "/v1beta1/upload-form"
        // Not multipart at all.
        let plain = try world.curl(["-X", "POST", "--data-binary", "@" + image, "-H", "Content-Type: application/octet-stream", url], as: .proxy)
        #expect(plain.status == 400 && plain.body.contains("multipart"), "\(plain.body)")
        // A form without a `file` part.
        let noFile = try world.curl(["-F", "other=@\(image)", url], as: .proxy)
        #expect(noFile.status == 400 && noFile.body.contains("no part named \"file\""), "\(noFile.body)")
        // A form whose file part never ends (no closing boundary).
        let body = world.dir.file("broken-form")
        try Data("--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".utf8 + (try Data(contentsOf: URL(fileURLWithPath: image))))
            .write(to: URL(fileURLWithPath: body))
        let unterminated = try world.curl(["-X", "POST", "--data-binary", "@" + body, "-H", "Content-Type: multipart/form-data; boundary=B", url], as: .proxy)
        #expect(unterminated.status == 400 && unterminated.body.contains("no closing boundary"), "\(unterminated.body)")
        #expect(try world.dataEntries().isEmpty)
        #expect(world.isRunning)
    }

    @Test func wholeImageChecksumIsVerifiedBeforeTheDiskIsCommitted() throws {
        let world = try UploadWorld()
        try world.start()
        let image = try UploadImages.qcow2(try UploadImages.raw(in: world.dir, mib: 6))
        let digest = try Harness.tool("sha256sum", image).stdout.prefix(64)
        let wrong = String(repeating: "0", count: 64)
        let mismatch = try world.post(image, headers: ["X-Image-Checksum: sha256:\(wrong)"])
        #expect(mismatch.status == 400 && mismatch.body.contains("checksum mismatch"), "\(mismatch.body)")
        #expect(try world.dataEntries().isEmpty)
        let malformed = try world.post(image, headers: ["X-Image-Checksum: sha256:xyz"])
        #expect(malformed.status == 400)
        #expect(try world.post(image, to: "/v1beta1/upload-async", headers: ["X-Image-Checksum: sha256:\(digest)"]).status == 200)
        #expect(try world.outcome().status == 0)
        #expect(try Files.identical(world.diskImage, try UploadImages.oracle(image, in: world.dir)))
    }

    @Test func lateTablesUseScratchOnlyWhenMounted() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("needs-scratch", in: dir)
        // No scratch volume: CDI's answer, and no disk.
        let without = try UploadWorld()
        try without.start()
        let refused = try without.post(image)
        #expect(refused.status == 500)
        #expect(refused.body.hasPrefix("Saving stream failed: scratch space required and none found"), "\(refused.body)")
        #expect(try without.dataEntries().isEmpty)
        // With /scratch mounted: the late clusters wait there, and the disk is right.
        let with = try UploadWorld()
        try FileManager.default.createDirectory(atPath: with.scratchDirectory, withIntermediateDirectories: true)
        try with.start()
        #expect(try with.post(image).status == 200)
        #expect(try with.outcome().status == 0)
        #expect(try Files.identical(with.diskImage, try UploadImages.oracle(image, in: with.dir)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: with.scratchDirectory).isEmpty)
    }

    @Test func peakMemoryStaysBoundedWhateverTheUploadsSize() throws {
        let world = try UploadWorld()
        try world.start(measured: true)
        // 160 MiB of random data in a qcow2: far more than the server may hold; the disk is slower than TLS here.
        let raw = world.dir.file("random.raw")
        try Harness.tool("sh", "-c", "head -c 167772160 /dev/urandom > '\(raw)'")
        let image = try UploadImages.qcow2(raw)
        #expect(try world.post(image).status == 200)
        #expect(try world.outcome().status == 0)
        #expect(world.peakRSSKiB < 128 << 10, "peak RSS \(world.peakRSSKiB) KiB")
        #expect(try Files.identical(world.diskImage, raw))
    }

    @Test(.enabled(if: TestLoopDevice.available, TestLoopDevice.reason)) func blockVolumeDestination() throws {
        let world = try UploadWorld()
        let device = try TestLoopDevice(size: 16 << 20, fill: 0xAA)
        try world.start(["DESTINATION": device.path])
        let image = try UploadImages.qcow2(try UploadImages.raw(in: world.dir, mib: 12))
        #expect(try world.post(image).status == 200)
        #expect(try world.outcome().status == 0)
        let written = try device.bytes()
        let expected = try Data(contentsOf: URL(fileURLWithPath: try UploadImages.oracle(image, in: world.dir)))
        #expect(written.prefix(expected.count) == expected)
        #expect(try world.dataEntries().isEmpty)
    }
}
