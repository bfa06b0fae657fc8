import Foundation
import Testing

@Suite struct Qcow2InfoTests {
    static let cases = ["v2-64k", "v3-512", "zstd-4k", "extended-l2", "dirty", "corrupt-bit", "lazy-refcounts", "bitmaps",
                        "unaligned-size", "backing-relative", "backing-raw", "snapshots", "external-data-file"]

    func object(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(arguments: cases)
    func jsonMatchesQemuImgInfo(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(name, in: dir)
        let result = try Harness.diskimport("info", image, "--output", "json")
        #expect(result.status == 0, "\(result.stderr)")
        let ours = try object(result.stdout)
        let qemu = try object(try Harness.tool("qemu-img", "info", "--output", "json", image).stdout)
        for (key, value) in qemu {
            let mine = try #require(ours[key], "\(name): no \(key)")
            #expect(NSDictionary(dictionary: [key: mine]) == NSDictionary(dictionary: [key: value]), "\(name): \(key)")
        }
        #expect(ours["layers"] as? [String] == ["qcow2"])
    }

    @Test(arguments: ["v3-64k", "v2-2m", "backing-relative", "zlib-64k", "snapshots", "bitmaps", "dirty"])
    func humanOutputMatchesQemuImgInfo(_ name: String) throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make(name, in: dir)
        let ours = try Harness.diskimport("info", image)
        #expect(ours.status == 0)
        #expect(ours.stdout == (try Harness.tool("qemu-img", "info", image).stdout))
    }

    @Test func rawFileIsDescribedLikeQemuImg() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(raw)", "bs=64k", "count=3", "seek=5", "status=none")
        let ours = try object(try Harness.diskimport("info", raw, "--output", "json").stdout)
        let qemu = try object(try Harness.tool("qemu-img", "info", "--output", "json", raw).stdout)
        #expect(ours["format"] as? String == "raw")
        #expect(ours["virtual-size"] as? Int == qemu["virtual-size"] as? Int)
        #expect(ours["actual-size"] as? Int == qemu["actual-size"] as? Int)
    }

    @Test func malformedImageIsAOneLineError() throws {
        let dir = try TemporaryDirectory()
        let image = try Qcow2Matrix.make("huge-l1-size", in: dir)
        let result = try Harness.diskimport("info", image)
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("active L1 table too large"))
    }
}
