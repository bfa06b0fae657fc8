import Foundation
import Testing

/// `diskimport convert` of qcow2 images inside multi-block .xz: blocks decoded on several threads and their clusters
/// placed out of order (XzParallelQcow2Reader), byte for byte against `qemu-img convert -O raw`, with the same scratch
/// rules and one-line errors as the front-to-back streaming reader (malformed images: `Qcow2StreamTests`).
@Suite struct XzQcow2ConvertTests {
    /// (how `xz` cuts the image, the environment's thread count). 64 KiB blocks are one to 128 qcow2 clusters, so
    /// tables and the data they map land in different blocks; 100000-byte blocks cut clusters in two; `-T1` writes one
    /// block without sizes, decoded in order on the reader's thread.
    static let shapes: [(xz: String, threads: String)] = [
        ("-T2 --block-size=64KiB", "2"),
        ("-T2 --block-size=100000", "5"),
        ("-T1", "2"),
    ]

    static func convert(_ arguments: [String], threads: String = "2") throws -> Harness.Result {
        var environment = ProcessInfo.processInfo.environment
        environment["DISKIMPORT_XZ_THREADS"] = threads
        return try Harness.run(Harness.binary, ["convert"] + arguments, environment: environment)
    }

    static func summary(_ stdout: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    @Test(arguments: Qcow2StreamTests.convertedImages, 0..<shapes.count)
    func convertedImageConvertsWithoutScratch(_ name: String, shape: Int) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(name, in: dir)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        try Harness.tool("sh", "-c", "xz \(Self.shapes[shape].xz) -c \(image) > \(image).xz")
        let result = try Self.convert([image + ".xz", dir.file("out.raw"), "--json"], threads: Self.shapes[shape].threads)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")))
        let json = try Self.summary(result.stdout)
        #expect(json["scratch-bytes"] as? Int == 0)
        #expect(json["layers"] as? [String] == ["xz", "qcow2"])
    }

    @Test(arguments: Qcow2StreamTests.otherImages)
    func otherVariantsConvertExactly(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(name, in: dir)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        try Harness.tool("sh", "-c", "xz -T2 --block-size=64KiB -c \(image) > \(image).xz")
        let scratch = dir.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        let result = try Self.convert([image + ".xz", dir.file("out.raw"), "--scratch", scratch])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty, "the scratch file was left behind")
    }

    /// Many L2 tables (4 KiB clusters map 2 MiB each) interleaved with their data across many small blocks: workers
    /// keep meeting clusters whose table another worker is still decoding. Plain, and with compressed clusters.
    @Test(arguments: [[String](), ["-c"]], ["2", "5"])
    func tablesAndDataInterleavedAcrossBlocks(_ compress: [String], threads: String) throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw"), image = dir.file("disk.qcow2")
        try Harness.tool("sh", "-c", """
            truncate -s 96M \(raw) && i=0 && while [ $i -lt 90 ]; do \
              { head -c 40000 /dev/urandom; yes "block $i" | head -c 30000; } | \
                dd of=\(raw) bs=4096 seek=$(( (i * 7919 + 13) % 24000 )) conv=notrunc status=none; i=$((i + 1)); done
            """)
        try Harness.run("/usr/bin/env", ["qemu-img", "convert", "-O", "qcow2", "-o", "cluster_size=4096"] + compress + [raw, image])
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        try Harness.tool("sh", "-c", "xz -T2 --block-size=64KiB -c \(image) > \(image).xz")
        let result = try Self.convert([image + ".xz", dir.file("out.raw"), "--json"], threads: threads)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(dir.file("qemu.raw"), dir.file("out.raw")))
        #expect(try Self.summary(result.stdout)["scratch-bytes"] as? Int == 0)
    }

    @Test func dataBeforeItsTableNeedsScratch() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("needs-scratch", in: dir)
        try Harness.tool("sh", "-c", "xz -T2 --block-size=64KiB -c \(image) > \(image).xz")
        let target = dir.file("out.raw")
        let refused = try Self.convert([image + ".xz", target])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("scratch space required"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: target))

        let scratch = dir.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
        let result = try Self.convert([image + ".xz", target, "--scratch", scratch, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.summary(result.stdout)["scratch-bytes"] as? Int ?? 0 > 0)
        try Harness.tool("qemu-img", "convert", "-O", "raw", image, dir.file("qemu.raw"))
        #expect(try Files.identical(dir.file("qemu.raw"), target))
    }

    /// A damaged block in the middle: one line naming the xz damage, no target.
    @Test func damagedBlockIsOneCorruptError() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("v3-64k", in: dir)
        let source = image + ".xz"
        try Harness.tool("sh", "-c", "xz -T2 --block-size=64KiB -c \(image) > \(source) && "
            + "printf '\\377' | dd of=\(source) bs=1 seek=$(( $(stat -c %s \(source)) / 2 )) conv=notrunc status=none")
        let target = dir.file("out.raw")
        let result = try Self.convert([source, target])
        #expect(result.status == 1)
        #expect(result.stderr.contains("xz:"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    /// The 128 MiB budget with blocks as `xz -T2 -6` cuts them (24 MiB decoded, 8 MiB dictionary) and data that
    /// compresses little (base64 of random bytes: 81%), so that the compressed blocks fill the buffer budget: 120 MiB of
    /// data in 5 blocks. The encoder's fastest match finder keeps the fixture at a few seconds.
    @Test func peakMemoryStaysUnderTheBudget() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw"), image = dir.file("disk.qcow2")
        try Harness.tool("sh", "-c", """
            truncate -s 1G \(raw) && head -c 90M /dev/urandom | base64 -w0 | head -c 120M | \
              dd of=\(raw) bs=1M seek=100 conv=notrunc status=none
            """)
        try Harness.tool("qemu-img", "convert", "-O", "qcow2", raw, image)
        try Harness.tool("sh", "-c", "xz -T2 --lzma2=dict=8MiB,mf=hc3,mode=fast,nice=3,depth=1 --block-size=24MiB -c \(image) > \(image).xz")
        let (result, maxRSSKiB) = try Harness.diskimportMeasured(["convert", image + ".xz", dir.file("out.raw")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(maxRSSKiB < 128 << 10, "peak RSS \(maxRSSKiB) KiB")
        #expect(try Files.identical(raw, dir.file("out.raw")))
    }
}
