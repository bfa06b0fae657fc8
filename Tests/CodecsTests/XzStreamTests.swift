import Codecs
import DiskImportCore
import Foundation
import Testing

@Suite struct XzStreamTests {
    static let data = sampleData(3 << 20)

    /// Multi-block files (what `xz -T` writes) decode through the threaded path; single-block ones on one thread.
    @Test(arguments: [
        ["-T2", "--block-size=256KiB", "-c"],
        ["-T1", "-c"],
        ["-0", "-T2", "--block-size=64KiB", "-c"],
        ["-C", "sha256", "-T1", "-c"],
        ["-C", "none", "-c"],
    ])
    func roundTripsWithTheXzTool(_ options: [String]) throws {
        let xz = try compressed(Self.data, "xz", options)
        #expect(try drain(XzStream(MemoryStream(xz, maximumRead: 100_000))) == Self.data)
        #expect(try drain(XzStream(MemoryStream(xz), threads: 1)) == Self.data)
    }

    @Test func multiBlockFilesReallyHaveSeveralBlocks() throws {
        let scratch = try Scratch()
        try write(try compressed(Self.data, "xz", ["-T2", "--block-size=256KiB", "-c"]), to: scratch.file("a.xz"))
        let listing = try tool("xz", ["--robot", "-l", scratch.file("a.xz")])
        let blocks = listing.split(separator: "\n").first { $0.hasPrefix("file") }?.split(separator: "\t")[2]
        #expect(blocks.flatMap { Int($0) } ?? 0 > 4)
    }

    @Test func concatenatedStreamsAndStreamPaddingDecodeAsOne() throws {
        let a = Array(Self.data[..<100_000]), b = Array(Self.data[100_000..<300_000])
        let xa = try compressed(a, "xz", ["-c"]), xb = try compressed(b, "xz", ["-T2", "--block-size=64KiB", "-c"])
        // Stream padding: multiples of four zero bytes between streams are part of the format.
        let joined = xa + [0, 0, 0, 0] + xb + [0, 0, 0, 0, 0, 0, 0, 0]
        #expect(try drain(XzStream(MemoryStream(joined))) == a + b)
    }

    @Test(arguments: [13, 100, 5000, -40, -1])
    func truncatedInputIsAClearError(_ cut: Int) throws {
        let xz = try compressed(Self.data, "xz", ["-T2", "--block-size=256KiB", "-c"])
        let kept = cut > 0 ? Array(xz[..<cut]) : Array(xz.dropLast(-cut))
        let error = diskImportError { _ = try drain(XzStream(MemoryStream(kept))) }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.contains("truncated") == true, "\(String(describing: error))")
    }

    @Test func corruptDataAndBadChecksAreClearErrors() throws {
        let xz = try compressed(Self.data, "xz", ["-T1", "-c"])
        // A byte in the middle of the LZMA2 data, and a byte of the block's CRC64 just before the index.
        for position in [xz.count / 2, xz.count - 40] {
            var damaged = xz
            damaged[position] ^= 0x55
            let error = diskImportError { _ = try drain(XzStream(MemoryStream(damaged))) }
            #expect(error?.kind == .corrupt)
            #expect(error?.message.hasPrefix("xz: ") == true, "\(String(describing: error))")
        }
        let garbageAfter = xz + Array("not xz".utf8) + [0, 0]
        #expect(diskImportError { _ = try drain(XzStream(MemoryStream(garbageAfter))) }?.kind == .corrupt)
    }

    @Test func badStreamHeaderIsAClearError() throws {
        var xz = try compressed(Self.data, "xz", ["-c"])
        xz[7] ^= 0xff // stream flags: a reserved bit set, and the header CRC no longer matches
        let error = diskImportError { _ = try drain(XzStream(MemoryStream(xz))) }
        #expect(error?.message.hasPrefix("xz: ") == true)
    }

    /// A header asking for a 4 GiB dictionary stops at the memory limit instead of allocating it.
    @Test func hostileDictionarySizeHitsTheMemoryLimit() throws {
        let hostile = try hostileDictionaryXz(try compressed(Array(Self.data[..<10_000]), "xz", ["-T1", "-c"]))
        let error = diskImportError { _ = try drain(XzStream(MemoryStream(hostile))) }
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("than the limit of 256 MiB") == true, "\(String(describing: error))")
        // The same mechanism for an ordinary file and a tiny limit.
        let ordinary = try compressed(Array(Self.data[..<10_000]), "xz", ["-6", "-c"])
        #expect(diskImportError { _ = try drain(XzStream(MemoryStream(ordinary), memoryLimit: 1 << 20)) }?.kind == .limit)
    }
}

/// Rewrites the first block header's LZMA2 dictionary property to its maximum (4 GiB) and fixes the header CRC32.
func hostileDictionaryXz(_ xz: [UInt8]) throws -> [UInt8] {
    var bytes = xz
    let headerStart = 12, headerSize = (Int(bytes[headerStart]) + 1) * 4
    let header = headerStart..<(headerStart + headerSize - 4)
    // Filter flags: id 0x21 (LZMA2), property size 1, the dictionary byte.
    guard let lzma2 = (header.lowerBound..<header.upperBound - 2).first(where: { bytes[$0] == 0x21 && bytes[$0 + 1] == 1 }) else {
        throw ToolError(description: "no LZMA2 filter flags in the block header")
    }
    bytes[lzma2 + 2] = 40
    let crc = UInt32(crc32Of(Array(bytes[header])))
    for i in 0..<4 { bytes[header.upperBound + i] = UInt8(truncatingIfNeeded: crc >> (8 * i)) }
    return bytes
}

/// CRC-32 (IEEE), as xz and gzip use.
func crc32Of(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
    }
    return ~crc
}
