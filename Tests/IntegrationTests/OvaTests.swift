import Foundation
import Testing

/// An OVA made as appliances ship: `tar` of the OVF descriptor first, then its disks (a streamOptimized vmdk that
/// qemu-img wrote, and a qcow2). `convert` takes the disk the OVF references first, or `--disk N`, streamed from the
/// tar with 0 scratch bytes, byte for byte what `qemu-img convert -O raw` makes of the member.
@Suite struct OvaTests {
    static let descriptor = """
        <?xml version="1.0" encoding="UTF-8"?>
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
          <References>
            <File ovf:href="appliance-disk1.vmdk" ovf:id="file1"/>
            <File ovf:href="appliance-disk2.qcow2" ovf:id="file2"/>
          </References>
          <DiskSection>
            <Info>Virtual disk information</Info>
            <Disk ovf:capacity="24" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1" ovf:fileRef="file1"
                  ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
            <Disk ovf:capacity="6" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk2" ovf:fileRef="file2"/>
          </DiskSection>
        </Envelope>
        """

    /// The OVA in `dir` (members in `order`, the descriptor first by default) and qemu-img's raw of each disk.
    static func make(in dir: TemporaryDirectory, order: [String] = ["appliance.ovf", "appliance-disk1.vmdk", "appliance-disk2.qcow2"])
        throws -> (ova: String, oracles: [String]) {
        try Harness.tool("qemu-img", "create", "-q", "-f", "raw", dir.file("disk1.raw"), "24M")
        try Harness.tool("qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 3M", "-c", "write -P 0x11 13M 65536",
                         "-c", "write -P 0x77 \(24 * 1048576 - 4096) 4096", dir.file("disk1.raw"))
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                         dir.file("disk1.raw"), dir.file("appliance-disk1.vmdk"))
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", dir.file("appliance-disk2.qcow2"), "6M")
        try Harness.tool("qemu-io", "-f", "qcow2", "-c", "write -P 0x42 512 70000", dir.file("appliance-disk2.qcow2"))
        try Data(descriptor.utf8).write(to: URL(fileURLWithPath: dir.file("appliance.ovf")))
        let tar = try Harness.run("tar", ["-C", dir.path, "-cf", dir.file("appliance.ova")] + order)
        guard tar.status == 0 else { throw HarnessError("tar failed: \(tar.stderr)") }
        var oracles: [String] = []
        for (index, member) in ["appliance-disk1.vmdk", "appliance-disk2.qcow2"].enumerated() {
            oracles.append(dir.file("qemu\(index + 1).raw"))
            try Harness.tool("qemu-img", "convert", "-O", "raw", dir.file(member), oracles[index])
        }
        return (dir.file("appliance.ova"), oracles)
    }

    @Test func convertsTheReferencedDiskWithoutScratch() throws {
        let dir = try TemporaryDirectory()
        let (ova, oracles) = try Self.make(in: dir)
        try Harness.tool("gzip", "-k", ova)
        let cases: [([String], String, [String])] = [
            ([ova], oracles[0], ["ova", "vmdk"]),
            ([ova, "--disk", "1"], oracles[0], ["ova", "vmdk"]),
            ([ova, "--disk", "2"], oracles[1], ["ova", "qcow2"]),
            ([ova + ".gz"], oracles[0], ["gzip", "ova", "vmdk"]),
        ]
        for (arguments, oracle, layers) in cases {
            let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert"] + arguments + [dir.file("out.raw"), "--json"])
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(try Files.identical(oracle, dir.file("out.raw")), "\(arguments): output differs from qemu-img convert of the member")
            let json = try BlockMapConvertTests.summary(result.stdout)
            #expect(json["scratch-bytes"] as? Int == 0, "\(arguments)")
            #expect(json["layers"] as? [String] == layers, "\(arguments)")
            #expect(maxRSSKiB < 128 << 10, "\(arguments): peak RSS \(maxRSSKiB) KiB")
        }
        let piped = try StandardInputTests.piped("cat \(ova)", ["convert", "--disk", "2", "-", dir.file("piped.raw")])
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try Files.identical(oracles[1], dir.file("piped.raw")))
    }

    @Test func infoDescribesTheChosenDisk() throws {
        let dir = try TemporaryDirectory()
        let (ova, _) = try Self.make(in: dir)
        for (disk, member, format) in [("1", "appliance-disk1.vmdk", "vmdk"), ("2", "appliance-disk2.qcow2", "qcow2")] {
            let ours = try BlockMapConvertTests.summary(try Harness.diskimport("info", "--disk", disk, "--output", "json", ova).stdout)
            let qemu = try BlockMapConvertTests.summary(try Harness.tool("qemu-img", "info", "--output", "json", dir.file(member)).stdout)
            #expect(ours["virtual-size"] as? Int == qemu["virtual-size"] as? Int)
            #expect(ours["format"] as? String == format)
            #expect(ours["layers"] as? [String] == ["ova", format])
        }
    }

    @Test func refusalsAreOneLineAndLeaveNoTarget() throws {
        let dir = try TemporaryDirectory()
        let (ova, _) = try Self.make(in: dir)
        let lateDir = try TemporaryDirectory()
        let (late, _) = try Self.make(in: lateDir, order: ["appliance-disk1.vmdk", "appliance.ovf", "appliance-disk2.qcow2"])
        let cases: [([String], String, Int32)] = [
            ([ova, "--disk", "3"], "--disk 3: the OVF lists 2 disks (1 to 2)", 1),
            ([ova, "--disk", "0"], "--disk 0: disks are counted from 1", 64),
            ([dir.file("disk1.raw"), "--disk", "1"], "is not an OVA (its layers: raw)", 1),
            ([late], "OVA: its OVF descriptor appliance.ovf is not its first file (appliance-disk1.vmdk is)", 1),
        ]
        for (arguments, message, status) in cases {
            let result = try Harness.run(Harness.binary, ["convert"] + arguments + [dir.file("refused.raw")])
            try Harness.expectFailure(result, containing: message, leavingNothingNamed: "refused", in: dir, status: status)
        }
    }
}

/// The OVA over HTTPS from the fixtures' nginx: the tar streams as any wrapper does.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct OvaHTTPTests {
    @Test(arguments: [false, true])
    func httpsIsByteIdentical(_ ranged: Bool) throws {
        let http = try HTTPFixture()
        let (ova, oracles) = try OvaTests.make(in: http.directory)
        let served = try http.served(ova, as: "appliance.ova")
        defer { try? FileManager.default.removeItem(atPath: served.path) }
        let result = try http.convert(served.url, try http.trust + ["--disk", "2", "--json"] + (ranged ? ["--http-random-access"] : []))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(oracles[1], http.directory.file("out.img")))
        let json = try BlockMapConvertTests.summary(result.stdout)
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == ["ova", "qcow2"])
    }
}
