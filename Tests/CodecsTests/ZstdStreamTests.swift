import Codecs
import DiskImportCore
import Foundation
import Testing

@Suite struct ZstdStreamTests {
    static let data = sampleData(2 << 20, seed: 2)

    @Test(arguments: [["-c"], ["-19", "-c"], ["-T2", "-c"], ["--no-check", "-c"]])
    func roundTripsWithTheZstdTool(_ options: [String]) throws {
        let zst = try compressed(Self.data, "zstd", ["-q"] + options)
        #expect(try drain(ZstdStream(MemoryStream(zst, maximumRead: 70_000))) == Self.data)
    }

    /// A skippable frame: magic 0x184D2A5? little-endian, a 32-bit length, then that many bytes the decoder ignores.
    static func skippableFrame(_ payload: [UInt8]) -> [UInt8] {
        let size = UInt32(payload.count)
        return [0x5a, 0x2a, 0x4d, 0x18] + (0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) } + payload
    }

    @Test func multipleFramesAndSkippableFramesDecodeAsOne() throws {
        let a = Array(Self.data[..<500_000]), b = Array(Self.data[500_000...])
        let za = try compressed(a, "zstd", ["-q", "-c"]), zb = try compressed(b, "zstd", ["-q", "-c"])
        let joined = Self.skippableFrame(Array("metadata".utf8)) + za + Self.skippableFrame([]) + zb
            + Self.skippableFrame([UInt8](repeating: 7, count: 100))
        #expect(try drain(ZstdStream(MemoryStream(joined, maximumRead: 3))) == a + b)
    }

    @Test(arguments: [5, 1000, -1, -4])
    func truncatedInputIsAClearError(_ cut: Int) throws {
        let zst = try compressed(Self.data, "zstd", ["-q", "-c"])
        let kept = cut > 0 ? Array(zst[..<cut]) : Array(zst.dropLast(-cut))
        let error = diskImportError { _ = try drain(ZstdStream(MemoryStream(kept))) }
        #expect(error?.kind == .corrupt)
        #expect(error?.message.contains("truncated") == true, "\(String(describing: error))")
    }

    @Test func corruptDataWrongChecksumAndTrailingGarbageAreClearErrors() throws {
        let zst = try compressed(Self.data, "zstd", ["-q", "-c"])
        var damaged = zst
        damaged[zst.count / 2] ^= 0x55
        let corrupt = diskImportError { _ = try drain(ZstdStream(MemoryStream(damaged))) }
        #expect(corrupt?.kind == .corrupt)
        #expect(corrupt?.message.hasPrefix("zstd: ") == true)

        var badChecksum = zst
        badChecksum[zst.count - 1] ^= 0x01
        let checksum = diskImportError { _ = try drain(ZstdStream(MemoryStream(badChecksum))) }
        #expect(checksum?.message == "zstd: checksum mismatch (corrupt data)")

        let garbage = diskImportError { _ = try drain(ZstdStream(MemoryStream(zst + Array("garbage!".utf8)))) }
        #expect(garbage?.message.contains("unknown frame magic") == true)
    }

    /// A frame header asking for a 2 GiB window is refused before anything is allocated.
    @Test func hostileWindowSizeHitsTheWindowLimit() throws {
        // Frame header descriptor 0 (no single segment, no checksum), window descriptor exponent 31 - 10.
        let hostile: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd, 0x00, (31 - 10) << 3] + [UInt8](repeating: 0, count: 64)
        let error = diskImportError { _ = try drain(ZstdStream(MemoryStream(hostile))) }
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("larger than the limit of 128 MiB") == true, "\(String(describing: error))")
        let ordinary = try compressed(Self.data, "zstd", ["-q", "-c"])
        #expect(diskImportError { _ = try drain(ZstdStream(MemoryStream(ordinary), windowLogMax: 10)) }?.kind == .limit)
    }
}
