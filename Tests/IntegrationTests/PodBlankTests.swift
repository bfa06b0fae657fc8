import Foundation
import Testing

/// IMPORTER_SOURCE=none: CDI's blank disk.
@Suite struct PodBlankTests {
    static let environment = ["IMPORTER_SOURCE": "none", "IMPORTER_CONTENTTYPE": "kubevirt", "IMPORTER_IMAGE_SIZE": "64Mi",
                              "FILESYSTEM_OVERHEAD": "0.055", "OWNER_UID": "3c1d7a0e"]

    @Test(arguments: [false, true]) func blankFileIsUsableSizeWithOrWithoutPreallocation(_ preallocation: Bool) throws {
        let pod = try PodWorld()
        var env = Self.environment
        env["PREALLOCATION"] = preallocation ? "true" : "false"
        let outcome = try pod.run(env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == #"{"preallocationApplied":\#(preallocation),"message":"Import Complete"}"#)
        // usable(min(free, 64Mi), 0.055) = roundDown(ceil(67108864 / 1.055), 1 MiB).
        let attributes = try FileManager.default.attributesOfItem(atPath: pod.diskImage)
        #expect(attributes[.size] as? Int == 62_914_560)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        #expect(try pod.dataEntries() == ["disk.img"])
        let allocated = try Files.allocatedBytes(pod.diskImage)
        if preallocation {
            #expect(allocated >= 62_914_560)
        } else {
            #expect(allocated == 0)
        }
        // Every byte reads as zero.
        #expect(try Harness.tool("cmp", "-n", "62914560", pod.diskImage, "/dev/zero").status == 0)
        // Each phase is logged with its duration.
        #expect(outcome.stderr.contains("phase Complete done in"))
    }

    /// DISKIMPORT_OVERHEAD_ARITHMETIC picks the CDI release whose arithmetic sizes the disk: at 1 GiB and 0.055,
    /// v1.63's roundDown(ceil(1073741824 / 1.055), 1 MiB) is 970 MiB and v1.62's roundDown(ceil(0.945 ×
    /// 1073741824), 1 MiB) 967 MiB. Another value is refused before anything is written.
    @Test(arguments: [("", 1_017_118_720), ("v1.63", 1_017_118_720), ("v1.62", 1_013_972_992)])
    func theOverheadArithmeticFollowsTheCDIReleaseNamed(_ release: String, _ size: Int) throws {
        let pod = try PodWorld()
        var env = Self.environment
        env["IMPORTER_IMAGE_SIZE"] = "1Gi"
        env["DISKIMPORT_OVERHEAD_ARITHMETIC"] = release
        let outcome = try pod.run(env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: pod.diskImage)[.size] as? Int == size)
    }

    @Test func anUnknownOverheadArithmeticIsRefused() throws {
        let pod = try PodWorld()
        var env = Self.environment
        env["DISKIMPORT_OVERHEAD_ARITHMETIC"] = "v1.66"
        let outcome = try pod.run(env)
        #expect(outcome.status == 1)
        #expect(outcome.termination?.contains("DISKIMPORT_OVERHEAD_ARITHMETIC") == true, "\(outcome.termination ?? "")")
        #expect(try pod.dataEntries() == [])
    }

    @Test func blankBlockVolumeWithoutPreallocationIsLeftAlone() throws {
        // CDI: "Blank block without preallocation is exactly an empty PVC": nothing written, no message.
        let pod = try PodWorld()
        try Data(repeating: 0xAB, count: 4096).write(to: URL(fileURLWithPath: pod.blockDevice))
        var env = Self.environment
        env["PREALLOCATION"] = "false"
        let outcome = try pod.run(env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: pod.blockDevice)) == Data(repeating: 0xAB, count: 4096))
        #expect(try pod.dataEntries() == [])
    }

    @Test(.enabled(if: LoopDevice.available)) func blankBlockVolumeWithPreallocationIsZeroedUpToTheRequest() throws {
        let pod = try PodWorld()
        let backing = pod.dir.file("volume.img")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(backing)", "bs=1M", "count=8", "status=none")
        let device = try LoopDevice(backing: backing)
        defer { device.detach() }
        try FileManager.default.createSymbolicLink(atPath: pod.blockDevice, withDestinationPath: device.path)
        var env = Self.environment
        env["IMPORTER_IMAGE_SIZE"] = "4Mi"
        env["PREALLOCATION"] = "true"
        let outcome = try pod.run(env)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == #"{"preallocationApplied":true,"message":"Import Complete"}"#)
        // min(device, requested) zeroed; the rest of the device untouched.
        #expect(try Harness.tool("cmp", "-n", String(4 << 20), device.path, "/dev/zero").status == 0)
        let tail = try Harness.run("cmp", ["-s", "-i", String(4 << 20), "-n", String(4 << 20), device.path, backing])
        #expect(tail.status == 0)
        #expect(try pod.dataEntries() == [])
    }
}

/// A loop device over a file (losetup), for block-mode tests; they run only where this is allowed (root).
struct LoopDevice {
    let path: String

    static let available: Bool = {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/dev/loop-control") else { return false }
        return (try? Harness.tool("losetup", "-f")) != nil
    }()

    init(backing: String) throws {
        path = try Harness.tool("losetup", "-f", "--show", backing).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func detach() { _ = try? Harness.run("losetup", ["-d", path]) }
}
