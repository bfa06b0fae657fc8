import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `diskimport convert` onto small filesystems: qemu-img's space rules by default (no overhead, a sparse disk may
/// be larger than the free space, `--size` is the size the disk grows to), CDI's with `--filesystem-overhead`.
@Suite(.enabled(if: SmallFilesystem.available, SmallFilesystem.reason))
struct SpaceConvertTests {
    static let MiB = 1 << 20

    /// A sparse raw image of `size` bytes with `dataMiB` MiB of random data at 1 MiB.
    private func makeRaw(_ path: String, size: Int, dataMiB: Int) throws {
        try Harness.tool("truncate", "-s", String(size), path)
        try Harness.tool("dd", "if=/dev/urandom", "of=\(path)", "bs=1M", "count=\(dataMiB)", "seek=1", "conv=notrunc",
                         "status=none")
    }

    /// `makeRaw` in `dir`, and as `format` (raw or qcow2): returns (the raw image, the image in that format).
    private func makeImage(_ format: String, in dir: TemporaryDirectory, size: Int, dataMiB: Int) throws -> (String, String) {
        let raw = dir.file("disk.raw")
        try makeRaw(raw, size: size, dataMiB: dataMiB)
        guard format == "qcow2" else { return (raw, raw) }
        let qcow2 = dir.file("disk.qcow2")
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2)
        return (raw, qcow2)
    }

    /// The issue's case: a 1 TiB qcow2 holding 208 KiB converts onto a 40 MiB filesystem, as with qemu-img.
    @Test func aSparseTebibyteQcow2ConvertsOntoASmallFilesystem() throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("big.qcow2")
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", image, "1T")
        try Harness.tool("qemu-io", "-f", "qcow2", "-c", "write -q -P 0xab 0 104k", "-c", "write -q -P 0xcd 512G 104k", image)
        let fs = try SmallFilesystem(megabytes: 40)
        let out = fs.file("disk.img")
        let result = try Harness.diskimport("convert", image, out, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int == 1 << 40)
        #expect(try Self.bytes(out, at: 0, count: 104 << 10).allSatisfy { $0 == 0xab })
        #expect(try Self.bytes(out, at: 512 << 30, count: 104 << 10).allSatisfy { $0 == 0xcd })
        #expect(try Self.bytes(out, at: (512 << 30) + (104 << 10), count: Self.MiB).allSatisfy { $0 == 0 })
        #expect(try Files.allocatedBytes(out) <= 1 << 20)
    }

    /// A 64 MiB image with 3 MiB of data on a 40 MiB filesystem, raw and qcow2: converted, byte for byte.
    @Test(arguments: ["raw", "qcow2"])
    func anImageWithLittleDataConvertsOnAFilesystemSmallerThanIt(format: String) throws {
        let dir = try TemporaryDirectory()
        let (raw, source) = try makeImage(format, in: dir, size: 64 * Self.MiB, dataMiB: 3)
        let fs = try SmallFilesystem(megabytes: 40)
        let result = try Harness.diskimport("convert", source, fs.file("disk.img"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Files.identical(raw, fs.file("disk.img")))
        // Even with --size 64Mi: the disk is the requested size, no overhead taken off a plain file.
        let sized = try Harness.diskimport("convert", source, fs.file("sized.img"), "--size", "64Mi", "--json")
        #expect(sized.status == 0, "\(sized.stderr)")
        #expect(try FileManager.default.attributesOfItem(atPath: fs.file("sized.img"))[.size] as? Int == 64 * Self.MiB)
    }

    /// With `--filesystem-overhead` the CLI applies CDI's rules: the same image does not fit a 40 MiB volume, and
    /// the refusal is CDI's, before anything is written.
    @Test func cdisRulesApplyWhenAnOverheadIsGiven() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try makeRaw(raw, size: 64 * Self.MiB, dataMiB: 3)
        let fs = try SmallFilesystem(megabytes: 40)
        let free = try fs.availableBytes()
        let result = try Harness.diskimport("convert", raw, fs.file("disk.img"), "--filesystem-overhead", "0")
        #expect(result.status == 1)
        #expect(result.stderr == "diskimport: error: virtual image size 67108864 is larger than the reported available storage \(free). A larger PVC is required\n")
        #expect(try fs.entries().isEmpty)
        // A requested size within the free space: the disk grows to usable(min(free, size), o), not to the size.
        let small = dir.file("small.raw")
        try makeRaw(small, size: 4 * Self.MiB, dataMiB: 1)
        let grown = try Harness.diskimport("convert", small, fs.file("disk.img"), "--size", "16Mi", "--filesystem-overhead", "0.055")
        #expect(grown.status == 0, "\(grown.stderr)")
        // usable(16 MiB, 0.055) = roundDown(ceil(16777216 / 1.055), 1 MiB) = 15 MiB.
        #expect(try FileManager.default.attributesOfItem(atPath: fs.file("disk.img"))[.size] as? Int == 15 * Self.MiB)
    }

    /// `--overhead-arithmetic v1.62` follows CDI v1.62.0: usable(1 GiB, 0.055) = roundDown(ceil(0.945 × 1073741824),
    /// 1 MiB) = 967 MiB where v1.63 and later give 970 MiB. A release diskimport does not know is a usage error.
    @Test func theOverheadArithmeticFlagPicksTheCDIRelease() throws {
        let dir = try TemporaryDirectory()
        let small = dir.file("small.raw")
        try makeRaw(small, size: 4 * Self.MiB, dataMiB: 1)
        for (release, size) in [("v1.63", 970 * Self.MiB), ("v1.62", 967 * Self.MiB)] {
            let target = dir.file("disk-\(release).img")
            let result = try Harness.diskimport("convert", small, target, "--size", "1Gi", "--filesystem-overhead", "0.055",
                                                "--overhead-arithmetic", release)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try FileManager.default.attributesOfItem(atPath: target)[.size] as? Int == Int(size), "\(release)")
        }
        let bad = try Harness.diskimport("convert", small, dir.file("bad.img"), "--overhead-arithmetic", "v2")
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--overhead-arithmetic"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("bad.img")))
    }

    /// Data known before writing (a local image's allocated extents and clusters) that cannot fit is refused up
    /// front with both numbers, leaving nothing.
    @Test(arguments: ["raw", "qcow2"])
    func knownDataThatCannotFitIsRefusedBeforeWriting(format: String) throws {
        let dir = try TemporaryDirectory()
        let (_, source) = try makeImage(format, in: dir, size: 64 * Self.MiB, dataMiB: 48)
        let fs = try SmallFilesystem(megabytes: 40)
        let free = try fs.availableBytes()
        let result = try Harness.diskimport("convert", source, fs.file("disk.img"))
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("image data \(48 * Self.MiB) bytes") && result.stderr.contains("\(free) bytes"),
                "\(result.stderr)")
        #expect(try fs.entries().isEmpty)
    }

    /// Clusters allocated in the tables but holes in the image file (qemu-img's preallocation=metadata) hold no
    /// data: a 64 MiB such image converts onto a 40 MiB filesystem, as with qemu-img.
    @Test func preallocatedMetadataIsNotData() throws {
        let dir = try TemporaryDirectory()
        let image = dir.file("meta.qcow2")
        try Harness.tool("qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=metadata", image, "64M")
        let fs = try SmallFilesystem(megabytes: 40)
        let result = try Harness.diskimport("convert", image, fs.file("disk.img"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Harness.run("cmp", ["-n", String(64 * Self.MiB), fs.file("disk.img"), "/dev/zero"]).status == 0)
    }

    /// A stream says nothing of its data before it arrives: one that does not fit fills the filesystem and ends in
    /// the one-line "target full", leaving nothing.
    @Test func aStreamThatFillsTheFilesystemIsTheOneLineTargetFullError() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try makeRaw(raw, size: 36 * Self.MiB, dataMiB: 30)
        try Harness.tool("gzip", "-1", raw)
        let fs = try SmallFilesystem(megabytes: 40)
        try Harness.tool("dd", "if=/dev/urandom", "of=\(fs.file("ballast"))", "bs=1M", "count=20", "status=none")
        let result = try Harness.diskimport("convert", raw + ".gz", fs.file("disk.img"))
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("diskimport: error: target full: "), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(try fs.entries() == ["ballast"])
    }

    /// A stream of unknown length may grow past the free space up to the size of its filesystem; past that (a
    /// decompression bomb, or a disk larger than the whole filesystem) it takes `--size` to allow.
    @Test func aStreamLargerThanItsFilesystemNeedsTheSizeGiven() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try makeRaw(raw, size: 64 * Self.MiB, dataMiB: 3)
        try Harness.tool("zstd", "-q", "-k", raw)
        let fs = try SmallFilesystem(megabytes: 40)
        let refused = try Harness.diskimport("convert", raw + ".zst", fs.file("disk.img"))
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("decompressed data exceeds"), "\(refused.stderr)")
        #expect(try fs.entries().isEmpty)
        let sized = try Harness.diskimport("convert", raw + ".zst", fs.file("disk.img"), "--size", "64Mi")
        #expect(sized.status == 0, "\(sized.stderr)")
        #expect(try Files.identical(raw, fs.file("disk.img")))
    }

    private static func bytes(_ path: String, at offset: Int, count: Int) throws -> Data {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        return try handle.read(upToCount: count) ?? Data()
    }
}

/// A tmpfs of a few MiB mounted for one test (root only); unmounted when released.
final class SmallFilesystem {
    static let available = getuid() == 0
    static let reason: Comment = "needs root to mount a small tmpfs"

    private let mountPoint: TemporaryDirectory

    init(megabytes: Int) throws {
        mountPoint = try TemporaryDirectory()
        try Harness.tool("mount", "-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", mountPoint.path)
    }

    func file(_ name: String) -> String { mountPoint.file(name) }

    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: mountPoint.path) }

    /// statfs(2) f_bavail × f_bsize, what diskimport reads as the free space.
    func availableBytes() throws -> UInt64 {
        let fields = try Harness.tool("stat", "-f", "-c", "%a %S", mountPoint.path).stdout
            .split(separator: " ").compactMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(fields.count == 2)
        return fields[0] * fields[1]
    }

    deinit { _ = try? Harness.run("umount", [mountPoint.path]) }
}
