import Codecs
import DiskImportCore
import Foundation
import Testing

@Suite struct GzipStreamTests {
    static let data = sampleData(2 << 20, seed: 3)

    @Test(arguments: [("gzip", ["-c"]), ("gzip", ["-1", "-c"]), ("pigz", ["-p", "2", "-c"]), ("pigz", ["-i", "-c"])])
    func roundTripsWithGzipAndPigz(_ tool: String, _ options: [String]) throws {
        let gz = try compressed(Self.data, tool, options)
        #expect(try drain(GzipStream(MemoryStream(gz, maximumRead: 50_000))) == Self.data)
    }

    @Test func concatenatedMembersDecodeAsOne() throws {
        let a = Array(Self.data[..<700_000]), b = Array(Self.data[700_000...])
        let joined = try compressed(a, "gzip", ["-c"]) + compressed(b, "pigz", ["-c"]) + compressed([], "gzip", ["-c"])
        #expect(try drain(GzipStream(MemoryStream(joined, maximumRead: 1000))) == a + b)
    }

    @Test func trailingZerosAreIgnoredLikeGnuGzip() throws {
        let gz = try compressed(Self.data, "gzip", ["-c"])
        #expect(try drain(GzipStream(MemoryStream(gz + [UInt8](repeating: 0, count: 10_000), maximumRead: 4096))) == Self.data)
    }

    @Test(arguments: [Array("garbage".utf8), [0, 0, 0, 1], [0x1f, 0x8b, 0x08]])
    func trailingGarbageIsAnError(_ trailer: [UInt8]) throws {
        let gz = try compressed(Self.data, "gzip", ["-c"])
        let error = diskImportError { _ = try drain(GzipStream(MemoryStream(gz + trailer))) }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.hasPrefix("gzip: ") == true, "\(String(describing: error))")
    }

    @Test(arguments: [10, 5000, -1, -8])
    func truncatedInputIsAClearError(_ cut: Int) throws {
        let gz = try compressed(Self.data, "gzip", ["-c"])
        let kept = cut > 0 ? Array(gz[..<cut]) : Array(gz.dropLast(-cut))
        let error = diskImportError { _ = try drain(GzipStream(MemoryStream(kept))) }
        #expect(error?.message.contains("truncated") == true, "\(String(describing: error))")
    }

    /// The trailer's CRC-32 and length are checked (by zlib).
    @Test(arguments: [-8, -1, -4])
    func badCrcOrLengthIsAClearError(_ fromEnd: Int) throws {
        var gz = try compressed(Self.data, "gzip", ["-c"])
        gz[gz.count + fromEnd] ^= 0x01
        let error = diskImportError { _ = try drain(GzipStream(MemoryStream(gz))) }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.contains("incorrect") == true, "\(String(describing: error))")
    }
}

@Suite struct SizeLimitedStreamTests {
    @Test func exactlyTheLimitPassesOneMoreByteFails() throws {
        let bytes = sampleData(100_000)
        #expect(try drain(SizeLimitedStream(MemoryStream(bytes), limit: 100_000)) == bytes)
        let error = diskImportError { _ = try drain(SizeLimitedStream(MemoryStream(bytes), limit: 99_999)) }
        #expect(error == DiskImportError(.limit, "decompressed data exceeds 99999 bytes"))
    }

    @Test func tighteningLowersTheLimitAndNamesTheReasonButNeverRaisesIt() throws {
        let limited = SizeLimitedStream(MemoryStream(sampleData(100_000)), limit: 90_000, reason: "the requested size")
        limited.tighten(to: 95_000, reason: "ignored: higher")
        limited.tighten(to: 50_000, reason: "what /dev/vdb can hold")
        #expect(limited.limit == 50_000)
        let error = diskImportError { _ = try drain(limited, bufferSize: 10_000) }
        #expect(error?.message == "decompressed data exceeds 50000 bytes (what /dev/vdb can hold)")
    }

    /// 512 MiB of zeros in a few KiB of zstd stops at the limit after reading little of it.
    @Test func aDecompressionBombStopsAtTheLimit() throws {
        let scratch = try Scratch()
        try tool("sh", ["-c", "head -c 512M /dev/zero | zstd -q -c > \(scratch.file("bomb.zst"))"])
        let bomb = try contents(scratch.file("bomb.zst"))
        #expect(bomb.count < 1 << 20)
        let limited = SizeLimitedStream(try ZstdStream(MemoryStream(bomb)), limit: 4 << 20)
        let error = diskImportError { _ = try drain(limited, bufferSize: 1 << 20) }
        #expect(error?.kind == .limit)
        #expect(error?.message == "decompressed data exceeds 4194304 bytes")
    }
}
