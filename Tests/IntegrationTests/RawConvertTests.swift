import Foundation
import Testing

@Suite struct RawConvertTests {
    @Test func rawAndGzippedRawConvertByteForByteAndSparse() throws {
        let dir = try TemporaryDirectory()
        let raw = dir.file("disk.raw")
        // 1 MiB of data, a 3 MiB hole, 1 MiB of data.
        try Harness.tool("dd", "if=/dev/urandom", "of=\(raw)", "bs=1M", "count=1", "status=none")
        try Harness.tool("dd", "if=/dev/urandom", "of=\(raw)", "bs=1M", "count=1", "seek=4", "status=none")
        try Harness.tool("gzip", "-k", raw)
        for source in [raw, raw + ".gz"] {
            let out = dir.file("out.img")
            let result = try Harness.diskimport("convert", source, out)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Files.identical(raw, out))
            #expect(try Files.allocatedBytes(out) <= 2 << 20 + 65536)
        }
    }

    @Test func missingSourceIsAOneLineError() throws {
        let dir = try TemporaryDirectory()
        let result = try Harness.diskimport("convert", dir.file("nope.qcow2"), dir.file("out.img"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("No such file or directory"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }
}
