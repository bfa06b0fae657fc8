import Codecs
import DiskImportCore
import Foundation
import Testing

/// Every case runs through both inflaters (ISA-L, the default, and zlib): they must agree byte for byte and
/// word for word.
@Suite struct GzipStreamTests {
    static let data = sampleData(2 << 20, seed: 3)
    static let small = sampleData(40_000, seed: 5)
    static let both = GzipInflater.allCases

    static let writers: [(String, [String])] = [
        ("gzip", ["-c"]), ("gzip", ["-1", "-c"]), ("pigz", ["-p", "2", "-c"]), ("pigz", ["-i", "-c"]),
        ("igzip", ["-0", "-c"]), ("igzip", ["-3", "-c"]),
    ]

    @Test(arguments: both, writers)
    func roundTripsWithGzipPigzAndIgzip(_ inflater: GzipInflater, _ writer: (String, [String])) throws {
        let gz = try compressed(Self.data, writer.0, writer.1)
        #expect(try drain(GzipStream(MemoryStream(gz, maximumRead: 50_000), inflater: inflater)) == Self.data)
    }

    /// Reads of every size on both sides: a byte at a time in (headers, deflate block headers and trailers split
    /// everywhere), and out through buffers from 1 byte to more than the whole stream.
    @Test(arguments: both, [(1, 7), (3, 1), (4096, 100), (65_536, 65_537), (.max, 1 << 20)])
    func anyReadSizesGiveTheSameBytes(_ inflater: GzipInflater, _ sizes: (input: Int, output: Int)) throws {
        let a = Array(Self.small[..<15_000]), b = Array(Self.small[15_000...])
        let gz = try compressed(a, "gzip", ["-c"]) + compressed(b, "igzip", ["-1", "-c"])
        let stream = try GzipStream(MemoryStream(gz, maximumRead: sizes.input), inflater: inflater)
        #expect(try drain(stream, bufferSize: sizes.output) == Self.small)
    }

    @Test(arguments: both)
    func concatenatedMembersDecodeAsOne(_ inflater: GzipInflater) throws {
        let a = Array(Self.data[..<700_000]), b = Array(Self.data[700_000...])
        let joined = try compressed(a, "gzip", ["-c"]) + compressed(b, "pigz", ["-c"]) + compressed([], "gzip", ["-c"])
        #expect(try drain(GzipStream(MemoryStream(joined, maximumRead: 1000), inflater: inflater)) == a + b)
    }

    @Test(arguments: both)
    func trailingZerosAreIgnoredLikeGnuGzip(_ inflater: GzipInflater) throws {
        let gz = try compressed(Self.data, "gzip", ["-c"]) + [UInt8](repeating: 0, count: 10_000)
        #expect(try drain(GzipStream(MemoryStream(gz, maximumRead: 4096), inflater: inflater)) == Self.data)
    }

    @Test(arguments: both, [Array("garbage".utf8), [0, 0, 0, 1], [0x1f, 0x8b, 0x08]])
    func trailingGarbageIsAnError(_ inflater: GzipInflater, _ trailer: [UInt8]) throws {
        let gz = try compressed(Self.data, "gzip", ["-c"])
        let error = diskImportError { _ = try drain(GzipStream(MemoryStream(gz + trailer), inflater: inflater)) }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.hasPrefix("gzip: ") == true, "\(String(describing: error))")
    }

    @Test(arguments: both, [10, 5000, -1, -8])
    func truncatedInputIsAClearError(_ inflater: GzipInflater, _ cut: Int) throws {
        let gz = try compressed(Self.data, "gzip", ["-c"])
        let kept = cut > 0 ? Array(gz[..<cut]) : Array(gz.dropLast(-cut))
        let error = diskImportError { _ = try drain(GzipStream(MemoryStream(kept), inflater: inflater)) }
        #expect(error?.message == "gzip: the data ends in the middle of a member (truncated file)")
    }

    /// The trailer's CRC-32 (the 8 bytes from the end) and length (the last 4) are both checked, in zlib's words.
    @Test(arguments: both, [(-8, "data"), (-5, "data"), (-4, "length"), (-1, "length")])
    func badCrcOrLengthIsAClearError(_ inflater: GzipInflater, _ flip: (fromEnd: Int, check: String)) throws {
        var gz = try compressed(Self.data, "gzip", ["-c"])
        gz[gz.count + flip.fromEnd] ^= 0x01
        let error = diskImportError { _ = try drain(GzipStream(MemoryStream(gz), inflater: inflater)) }
        #expect(error == .corrupt("gzip: corrupt data (incorrect \(flip.check) check)"))
    }

    /// A bad member in the middle of several is caught there too (the second member's CRC).
    @Test(arguments: both)
    func aBadTrailerInAnInnerMemberIsCaught(_ inflater: GzipInflater) throws {
        var first = try compressed(Array(Self.small[..<20_000]), "gzip", ["-c"])
        first[first.count - 8] ^= 0x80
        let gz = try first + compressed(Array(Self.small[20_000...]), "gzip", ["-c"])
        let error = diskImportError { _ = try drain(GzipStream(MemoryStream(gz, maximumRead: 777), inflater: inflater)) }
        #expect(error == .corrupt("gzip: corrupt data (incorrect data check)"))
    }

    @Test(arguments: both)
    func corruptDeflateDataIsAClearError(_ inflater: GzipInflater) throws {
        var gz = try compressed(Self.data, "gzip", ["-c"])
        for i in stride(from: 2000, to: 2100, by: 1) { gz[i] = 0xff }
        let error = diskImportError { _ = try drain(GzipStream(MemoryStream(gz), inflater: inflater)) }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.hasPrefix("gzip: corrupt data (") == true, "\(String(describing: error))")
    }

    /// Every optional header field (RFC 1952 2.3.1), written by Python's zlib as the oracle: long FEXTRA, FNAME and
    /// FCOMMENT, FHCRC; accepted by GNU gzip too; then the same fed one byte at a time.
    @Test(arguments: both, ["extra", "name", "comment", "hcrc", "extra,name,comment,hcrc", "text,name,hcrc"])
    func optionalHeaderFieldsAreSkipped(_ inflater: GzipInflater, _ fields: String) throws {
        let gz = try Self.member(Self.small, fields: fields)
        #expect(try compressed(gz, "gzip", ["-dc"]) == Self.small, "the oracle accepts the header")
        let twice = gz + gz
        #expect(try drain(GzipStream(MemoryStream(twice), inflater: inflater)) == Self.small + Self.small)
        #expect(try drain(GzipStream(MemoryStream(twice, maximumRead: 1), inflater: inflater)) == Self.small + Self.small)
    }

    @Test(arguments: both, [
        ("extra,name,hcrc,badhcrc", "header crc mismatch"), ("reserved", "unknown header flags set"),
        ("method7", "unknown compression method"), ("badmagic", "incorrect header check"),
    ])
    func badHeadersAreRefusedInZlibsWords(_ inflater: GzipInflater, _ bad: (fields: String, reason: String)) throws {
        let gz = try Self.member(Self.small, fields: bad.fields)
        for maximumRead in [1, Int.max] {
            let error = diskImportError { _ = try drain(GzipStream(MemoryStream(gz, maximumRead: maximumRead), inflater: inflater)) }
            #expect(error == .corrupt("gzip: corrupt data (\(bad.reason))"))
        }
    }

    /// `bytes` as one gzip member whose header has the given fields (comma-separated: extra, name, comment, hcrc,
    /// text; faults: badhcrc, reserved, method7, badmagic). The deflate data and trailer are gzip's.
    static func member(_ bytes: [UInt8], fields: String) throws -> [UInt8] {
        let script = """
            import struct, sys, zlib
            f = set(sys.argv[1].split(","))
            body = sys.stdin.buffer.read()[10:]  # gzip -n: a bare 10-byte header
            flags = (1 if "text" in f else 0) | (2 if "hcrc" in f else 0) | (4 if "extra" in f else 0) | \\
                (8 if "name" in f else 0) | (16 if "comment" in f else 0) | (0x20 if "reserved" in f else 0)
            magic = b"\\x1f\\x9b" if "badmagic" in f else b"\\x1f\\x8b"
            h = magic + bytes([7 if "method7" in f else 8, flags]) + struct.pack("<IBB", 1700000000, 0, 3)
            if "extra" in f:
                sub = b"AP" + struct.pack("<H", 3000) + bytes(range(256)) * 11 + bytes(184)
                h += struct.pack("<H", len(sub)) + sub
            if "name" in f:
                h += b"disk-" + b"n" * 700 + b".img\\0"
            if "comment" in f:
                h += b"c" * 70000 + b"\\0"
            if "hcrc" in f:
                crc = zlib.crc32(h) & 0xffff
                h += struct.pack("<H", crc ^ (1 if "badhcrc" in f else 0))
            sys.stdout.buffer.write(h + body)
            """
        let plain = try compressed(bytes, "gzip", ["-n", "-c"])
        let scratch = try Scratch()
        try write(plain, to: scratch.file("in"))
        try tool("python3", ["-c", script, fields], stdinFile: scratch.file("in"), stdoutFile: scratch.file("out"))
        return try contents(scratch.file("out"))
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
