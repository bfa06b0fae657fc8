import Foundation
import Testing

/// `diskimport convert` onto loop devices filled with garbage: the image's bytes, zeros wherever the image has none,
/// and nothing written past the image.
@Suite(.enabled(if: TestLoopDevice.available, TestLoopDevice.reason))
struct BlockDeviceConvertTests {
    static let MiB = 1 << 20
    static let garbage: UInt8 = 0x5A

    /// 6 MiB: random data at 0 with a 1 MiB zero run and scattered zero blocks, a 3 MiB hole, 1 MiB data at 5 MiB.
    private func makeRaw(_ path: String) throws {
        try Harness.tool("dd", "if=/dev/urandom", "of=\(path)", "bs=1M", "count=2", "status=none")
        try Harness.tool("dd", "if=/dev/zero", "of=\(path)", "bs=1M", "count=1", "seek=1", "conv=notrunc", "status=none")
        for block in [3, 17, 100] {
            try Harness.tool("dd", "if=/dev/zero", "of=\(path)", "bs=4096", "count=1", "seek=\(block)", "conv=notrunc", "status=none")
        }
        try Harness.tool("dd", "if=/dev/urandom", "of=\(path)", "bs=1M", "count=1", "seek=5", "status=none")
    }

    @Test(arguments: ["raw", "gzip"])
    func theDeviceHoldsTheImageAndNoOldData(layer: String) throws {
        let dir = try TemporaryDirectory()
        var source = dir.file("disk.raw")
        try makeRaw(source)
        let image = try Data(contentsOf: URL(fileURLWithPath: source))
        if layer == "gzip" {
            try Harness.tool("gzip", "-k", source)
            source += ".gz"
        }
        let device = try TestLoopDevice(size: 8 * Self.MiB, fill: Self.garbage)
        let result = try Harness.diskimport("convert", source, device.path, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let bytes = try device.bytes()
        #expect(bytes.prefix(image.count) == image, "the device does not hold the image")
        #expect(bytes.dropFirst(image.count).allSatisfy { $0 == Self.garbage }, "bytes past the image were touched")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["target-kind"] as? String == "block-device")
        #expect(json["target-size"] as? Int == 6 * Self.MiB)
        // The 1 MiB zero run and the 3 MiB hole are zeroed without writing them.
        #expect((json["hole-bytes"] as? Int ?? 0) >= 4 * Self.MiB)
    }

    @Test func anImageLargerThanTheDeviceIsRefusedAndTheDeviceUntouched() throws {
        let dir = try TemporaryDirectory()
        try makeRaw(dir.file("disk.raw"))
        let device = try TestLoopDevice(size: 4 * Self.MiB, fill: Self.garbage)
        let result = try Harness.diskimport("convert", dir.file("disk.raw"), device.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("6291456") && result.stderr.contains("4194304"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(try device.bytes().allSatisfy { $0 == Self.garbage })
    }

    @Test func aStreamLargerThanTheDeviceStopsAtItsEnd() throws {
        let dir = try TemporaryDirectory()
        try makeRaw(dir.file("disk.raw"))
        try Harness.tool("gzip", dir.file("disk.raw"))
        let device = try TestLoopDevice(size: 4 * Self.MiB, fill: Self.garbage)
        let result = try Harness.diskimport("convert", dir.file("disk.raw.gz"), device.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("4194304") && result.stderr.contains(device.path), "\(result.stderr)")
    }
}
