import Foundation
import Testing

/// `info` lists what `qemu-img info` lists of a qcow2's internal snapshots and persistent bitmaps, byte for byte in
/// the human form and key for key in JSON, on images made with `qemu-img snapshot -c`, `qemu-img bitmap --add` and
/// `qemu-io` writes.
@Suite struct Qcow2SnapshotInfoTests {
    func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    /// Both forms of info agree with qemu-img's, in UTC and in a zone east of it (snapshot dates are local time).
    func expectSameInfo(_ image: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for zone in ["UTC", "Asia/Kolkata"] {
            var environment = ProcessInfo.processInfo.environment
            environment["TZ"] = zone
            let ours = try Harness.run(Harness.binary, ["info", image], environment: environment)
            #expect(ours.status == 0, "\(ours.stderr)", sourceLocation: sourceLocation)
            let qemu = try Harness.run("/usr/bin/env", ["qemu-img", "info", image], environment: environment)
            #expect(qemu.status == 0, "\(qemu.stderr)", sourceLocation: sourceLocation)
            #expect(ours.stdout == qemu.stdout, "TZ=\(zone)", sourceLocation: sourceLocation)
        }
        let ours = try object(try Harness.diskimport("info", image, "--output", "json").stdout)
        let qemu = try object(try Harness.tool("qemu-img", "info", "--output", "json", image).stdout)
        for key in ["snapshots", "format-specific"] {
            #expect(NSDictionary(dictionary: [key: ours[key] ?? "absent"]) == NSDictionary(dictionary: [key: qemu[key] ?? "absent"]),
                    "\(key): ours \(String(describing: ours[key])), qemu-img's \(String(describing: qemu[key]))", sourceLocation: sourceLocation)
        }
        for (key, value) in qemu {
            #expect(ours[key].map { NSDictionary(dictionary: [key: $0]) == NSDictionary(dictionary: [key: value]) } == true,
                    "\(key)", sourceLocation: sourceLocation)
        }
    }

    func write(_ image: String, _ commands: String...) throws {
        try Harness.tool("qemu-io", ["-f", "qcow2"] + commands.flatMap { ["-c", $0] } + [image])
    }

    @Test func snapshotsAndBitmapsMatchQemuImgInfo() throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("disk.qcow2")
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", image, "64M")
        try write(image, "write -P 1 0 34M")
        try Harness.tool("qemu-img", "snapshot", "-c", "first", image)
        try write(image, "write -P 2 1M 1M", "write -z 8M 64k")
        try Harness.tool("qemu-img", "snapshot", "-c", "a tag longer than sixteen bytes", image)
        try Harness.tool("qemu-img", "snapshot", "-c", "third", image)
        try Harness.tool("qemu-img", "snapshot", "-d", "first", image)   // ids keep counting: 2 and 3 remain
        try Harness.tool("qemu-img", "bitmap", "--add", image, "tracked")
        try Harness.tool("qemu-img", "bitmap", "--add", "-g", "1M", "--disable", image, "disabled-1M")
        try write(image, "write -P 3 40M 64k")
        try expectSameInfo(image)
        let human = try Harness.diskimport("info", image).stdout
        #expect(human.contains("\n3         third                 0 B "), "\(human)")
        #expect(human.contains("        [1]:\n            flags:\n            name: disabled-1M\n            granularity: 1048576\n"), "\(human)")
    }

    @Test func snapshotsOfAVersion2ImageAndNoBitmaps() throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("v2.qcow2")
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", image, "8M")
        try write(image, "write -P 7 0 1M")
        try Harness.tool("qemu-img", "snapshot", "-c", "only", image)
        try expectSameInfo(image)
    }

    @Test func anImageWithoutSnapshotsHasNoSnapshotKey() throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("plain.qcow2")
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", image, "8M")
        try Harness.tool("qemu-img", "bitmap", "--add", image, "b")
        try Harness.tool("qemu-img", "bitmap", "--remove", image, "b")
        try expectSameInfo(image)
        let ours = try object(try Harness.diskimport("info", image, "--output", "json").stdout)
        #expect(ours["snapshots"] == nil)
    }

    /// A snapshot table entry whose extra data exceeds qemu's 1024 bytes: one line, as qemu-img also refuses it.
    @Test func anOversizedSnapshotEntryIsAOneLineError() throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("bad.qcow2")
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", image, "8M")
        try Harness.tool("qemu-img", "snapshot", "-c", "s", image)
        // snapshots_offset is header bytes 64-71; the entry's extra_data_size is its bytes 36-39.
        try Harness.tool("python3", "-c", """
            import struct, sys
            f = open(sys.argv[1], "r+b"); f.seek(64); table = struct.unpack(">Q", f.read(8))[0]
            f.seek(table + 36); f.write(struct.pack(">I", 4096)); f.close()
            """, image)
        #expect(try Harness.run("/usr/bin/env", ["qemu-img", "info", image]).status != 0)
        let result = try Harness.diskimport("info", image)
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("too much extra metadata in snapshot table entry 0"), "\(result.stderr)")
    }

    /// A bitmaps extension qemu refuses (its reserved field set): info and convert refuse it with one line too.
    @Test func aBrokenBitmapsExtensionIsAOneLineError() throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("bad.qcow2")
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", image, "8M")
        try Harness.tool("qemu-img", "bitmap", "--add", image, "b")
        // Header extensions start at header_length (bytes 100-103): (u32 type, u32 length, data padded to 8).
        try Harness.tool("python3", "-c", """
            import struct, sys
            f = open(sys.argv[1], "r+b"); f.seek(100); offset = struct.unpack(">I", f.read(4))[0]
            while True:
                f.seek(offset); kind, length = struct.unpack(">II", f.read(8))
                if kind == 0x23852875: f.seek(offset + 12); f.write(struct.pack(">I", 1)); break
                assert kind != 0, "no bitmaps extension"
                offset += 8 + (length + 7) // 8 * 8
            f.close()
            """, image)
        #expect(try Harness.run("/usr/bin/env", ["qemu-img", "info", image]).status != 0)
        for arguments in [["info", image], ["convert", image, dir.file("out.raw")]] {
            let result = try Harness.run(Harness.binary, arguments)
            #expect(result.status == 1)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(result.stderr.contains("bitmaps extension: the reserved field is not zero"), "\(result.stderr)")
        }
    }

    /// Human sizes are qemu's size_to_str (printf %0.3g): compared with qemu-img info's "virtual size" of raw files
    /// whose sizes sit at the rounding and unit boundaries.
    @Test func humanSizesRoundAsQemuImgRoundsThem() throws {
        let dir = try TemporaryDirectory()
        let sizes: [UInt64] = [0, 512, 999 * 512, 1000 * 512, 1023 * 512, 1024 * 512, 35_913_728, 1_048_064, 1_048_576,
                               10_484_736, 104_805_376, 1_048_051_712, 1_073_741_312, (1 << 40) - 512, 8 << 40]
        for size in sizes {
            let raw = dir.file("\(size).raw")
            try Harness.tool("truncate", "-s", String(size), raw)
            let line = { (text: String) in text.split(separator: "\n").first { $0.hasPrefix("virtual size:") }.map(String.init) }
            let ours = line(try Harness.diskimport("info", raw).stdout)
            #expect(ours != nil)
            #expect(ours == line(try Harness.tool("qemu-img", "info", "-f", "raw", raw).stdout), "\(size) bytes")
        }
        #expect(try Harness.diskimport("info", dir.file("35913728.raw")).stdout.contains("virtual size: 34.2 MiB (35913728 bytes)"))
    }
}
