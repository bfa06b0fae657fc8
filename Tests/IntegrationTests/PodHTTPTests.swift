import Foundation
import Testing

/// `diskimport import` with IMPORTER_SOURCE=http against the loopback nginx (TLS with the fixtures' CA, basic auth
/// on /private/).
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason)) struct PodHTTPTests {
    static let image = "disk.raw.gz"

    /// CDI's environment for the private HTTPS image, with the CA directory and the basic-auth secret.
    static func environment(_ fixtures: Fixtures, image: String = image, password: String? = nil) throws -> [String: String] {
        [
            "IMPORTER_SOURCE": "http",
            "IMPORTER_ENDPOINT": "https://127.0.0.1:\(try fixtures["FILES_PORT"])/private/\(image)",
            "IMPORTER_CONTENTTYPE": "kubevirt",
            "IMPORTER_IMAGE_SIZE": "16Mi",
            "IMPORTER_ACCESS_KEY_ID": try fixtures["FILES_USER"],
            "IMPORTER_SECRET_KEY": try password ?? fixtures.contents(of: "FILES_PASSWORD_FILE"),
            "IMPORTER_CERT_DIR": try fixtures["CERT_DIR"],
            "INSECURE_TLS": "false",
            "PREALLOCATION": "false",
            "FILESYSTEM_OVERHEAD": "0.055",
            "OWNER_UID": "0b7a3c4e",
            "IMPORTER_EXTRA_HEADER_0": "X-Diskimport-Test: pod",
        ]
    }

    @Test func basicAuthAndCADirectoryImportByteForByte() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let env = try Self.environment(fixtures)
        let outcome = try pod.run(env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#)
        let raw = try fixtures["DISK_RAW"]
        let rawSize = try #require(FileManager.default.attributesOfItem(atPath: raw)[.size] as? Int)
        #expect(try Harness.tool("cmp", "-n", String(rawSize), raw, pod.diskImage).status == 0)
        // Grown to usable(16Mi, 0.055) = 15 MiB; mode 0660.
        let attributes = try FileManager.default.attributesOfItem(atPath: pod.diskImage)
        #expect(attributes[.size] as? Int == 15 << 20)
        #expect(attributes[.posixPermissions] as? Int == 0o660)
        for phase in ["Info", "Transfer", "Resize", "Complete"] {
            #expect(outcome.stderr.contains("phase \(phase) done in"), "no \(phase) line")
        }
        #expect(!outcome.stderr.contains(env["IMPORTER_SECRET_KEY"] ?? "unset"))
    }

    @Test func qcow2XzOverHTTPSWithBasicAuthAndCADirectory() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let outcome = try pod.run(try Self.environment(fixtures, image: "disk.qcow2.xz"))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#)
        let raw = try fixtures["DISK_RAW"]
        let rawSize = try #require(FileManager.default.attributesOfItem(atPath: raw)[.size] as? Int)
        #expect(try Harness.tool("cmp", "-n", String(rawSize), raw, pod.diskImage).status == 0)
        #expect(try Harness.tool("cmp", "-i", "\(rawSize):0", "-n", String((15 << 20) - rawSize), pod.diskImage, "/dev/zero").status == 0)
    }

    @Test func readyFileNamesTheImageAndDoneFileIsCreated() throws {
        // CDI's node-pull protocol: the endpoint ends in disk.img, the ready file holds the image's real name.
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        var env = try Self.environment(fixtures, image: "disk.img")
        try Self.image.write(toFile: pod.dir.file("ready"), atomically: true, encoding: .utf8)
        env["IMPORTER_READY_FILE"] = pod.dir.file("ready")
        env["IMPORTER_DONE_FILE"] = pod.dir.file("done")
        env["IMPORTER_PULL_METHOD"] = "node"
        let outcome = try pod.run(env, ["-v=1"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(FileManager.default.fileExists(atPath: pod.dir.file("done")))
        let raw = try fixtures["DISK_RAW"]
        let rawSize = try #require(FileManager.default.attributesOfItem(atPath: raw)[.size] as? Int)
        #expect(try Harness.tool("cmp", "-n", String(rawSize), raw, pod.diskImage).status == 0)
    }

    @Test func wrongPasswordFailsAndLeavesNoDisk() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let outcome = try pod.run(try Self.environment(fixtures, password: "not-the-password"))
        #expect(outcome.status == 1)
        #expect(outcome.termination?.hasPrefix("Unable to process data: ") == true)
        #expect(outcome.termination?.contains("401") == true)
        #expect(outcome.termination?.contains("not-the-password") == false)
        #expect(try pod.dataEntries() == [])
    }

    @Test func checksumMismatchIsReportedAndTheDiskRemoved() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        var env = try Self.environment(fixtures)
        env["IMPORTER_CHECKSUM"] = "sha256:" + String(repeating: "0", count: 64)
        let outcome = try pod.run(env)
        #expect(outcome.status == 1)
        #expect(outcome.termination?.hasPrefix("Unable to process data: checksum mismatch") == true, "\(outcome.termination ?? "")")
        #expect(try pod.dataEntries() == [])

        // The right checksum of the bytes as downloaded passes.
        let digest = try Harness.tool("sha256sum", try fixtures["WWW_DIR"] + "/" + Self.image).stdout.prefix(64)
        env["IMPORTER_CHECKSUM"] = "sha256:\(digest)"
        let good = try pod.run(env)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try pod.dataEntries() == ["disk.img"])
    }

    @Test func anImageLargerThanTheVolumeIsRefusedNamingBothSizes() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        var env = try Self.environment(fixtures, image: "disk.raw")
        env["IMPORTER_IMAGE_SIZE"] = "2Mi"
        let outcome = try pod.run(env)
        let rawSize = try #require(FileManager.default.attributesOfItem(atPath: try fixtures["DISK_RAW"])[.size] as? Int)
        #expect(outcome.status == 1)
        // CDI's words: the virtual size against min(free, IMPORTER_IMAGE_SIZE), as pkg/image/qemu.go has it; an http
        // source fails in CDI's ValidatePreScratch phase, which adds no context of its own.
        #expect(outcome.termination == "Unable to process data: virtual image size \(rawSize) is larger than the reported available storage \(2 << 20). A larger PVC is required")
        #expect(try pod.dataEntries() == [])
    }

    /// Block mode: the volume is the device, so an image larger than it is refused in CDI's words, the device untouched.
    @Test(.enabled(if: LoopDevice.available)) func blockModeRefusesAnImageLargerThanTheDevice() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let backing = pod.dir.file("volume.img")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(backing)", "bs=1M", "count=2", "status=none")
        let before = try Data(contentsOf: URL(fileURLWithPath: backing))
        let device = try LoopDevice(backing: backing)
        defer { device.detach() }
        try FileManager.default.createSymbolicLink(atPath: pod.blockDevice, withDestinationPath: device.path)
        let outcome = try pod.run(try Self.environment(fixtures, image: "disk.raw"))
        let rawSize = try #require(FileManager.default.attributesOfItem(atPath: try fixtures["DISK_RAW"])[.size] as? Int)
        #expect(outcome.status == 1)
        #expect(outcome.termination == "Unable to process data: virtual image size \(rawSize) is larger than the reported available storage \(2 << 20). A larger PVC is required")
        #expect(try Data(contentsOf: URL(fileURLWithPath: backing)) == before)
    }

    @Test(.enabled(if: LoopDevice.available)) func blockModeWritesTheVolumeInPlace() throws {
        let fixtures = try Fixtures.get()
        let pod = try PodWorld()
        let backing = pod.dir.file("volume.img")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(backing)", "bs=1M", "count=8", "status=none")
        let device = try LoopDevice(backing: backing)
        defer { device.detach() }
        try FileManager.default.createSymbolicLink(atPath: pod.blockDevice, withDestinationPath: device.path)
        let outcome = try pod.run(try Self.environment(fixtures))
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#)
        let raw = try fixtures["DISK_RAW"]
        let rawSize = try #require(FileManager.default.attributesOfItem(atPath: raw)[.size] as? Int)
        #expect(try Harness.tool("cmp", "-n", String(rawSize), raw, device.path).status == 0)
        #expect(try pod.dataEntries() == [])
    }
}
