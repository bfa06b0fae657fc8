import DiskImportCore
import Testing
@testable import DiskImage

/// A qcow2 first cluster assembled field by field.
struct HeaderBytes {
    var bytes: [UInt8]

    /// `l1Size` defaults to what covers `size`.
    init(version: UInt32 = 3, clusterBits: UInt32 = 16, size: UInt64 = 1 << 20, l1Size: UInt32? = nil) {
        let perL1Entry = UInt64(1) << UInt64(2 * clusterBits - 3)
        let l1Size = l1Size ?? UInt32((size + perL1Entry - 1) / perL1Entry)
        bytes = [UInt8](repeating: 0, count: 1 << Int(clusterBits))
        put32(0, Qcow2Header.magic)
        put32(4, version)
        put32(20, clusterBits)
        put64(24, size)
        put32(36, l1Size)
        put64(40, 3 << UInt64(clusterBits))
        put64(48, 1 << UInt64(clusterBits))
        put32(56, 1)
        if version == 3 {
            put32(96, 4)
            put32(100, 112)
        }
    }

    mutating func put32(_ offset: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(i))) }
    }

    mutating func put64(_ offset: Int, _ value: UInt64) {
        put32(offset, UInt32(truncatingIfNeeded: value >> 32))
        put32(offset + 4, UInt32(truncatingIfNeeded: value))
    }

    /// Appends a header extension at `offset`; returns the offset after it.
    @discardableResult
    mutating func putExtension(at offset: Int, type: UInt32, data: [UInt8]) -> Int {
        put32(offset, type)
        put32(offset + 4, UInt32(data.count))
        for (i, b) in data.enumerated() { bytes[offset + 8 + i] = b }
        return offset + 8 + (data.count + 7) / 8 * 8
    }

    func parse(fileLength: UInt64? = nil) throws -> Qcow2Header {
        try bytes.withUnsafeBytes { try Qcow2Header(head: $0, fileLength: fileLength ?? UInt64(bytes.count), name: "test.qcow2") }
    }
}

/// The message of the DiskImportError `body` throws, or nil.
func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as DiskImportError {
        return error.message
    } catch {
        return "\(error)"
    }
}

@Suite struct Qcow2HeaderTests {
    @Test func parsesVersion3FieldsExtensionsAndBackingName() throws {
        var h = HeaderBytes(size: 1_048_276)
        h.put64(80, 1)  // lazy refcounts
        var next = h.putExtension(at: 112, type: 0xe279_2aca, data: Array("qcow2".utf8))
        var table = [UInt8](repeating: 0, count: 48)
        table[1] = 0
        table.replaceSubrange(2..<7, with: Array("dirty".utf8))
        next = h.putExtension(at: next, type: 0x6803_f857, data: table)
        h.put32(next, 0)
        let name = Array("base images/disk.qcow2".utf8)
        h.put64(8, 1024)
        h.put32(16, UInt32(name.count))
        h.bytes.replaceSubrange(1024..<1024 + name.count, with: name)

        let header = try h.parse()
        #expect(header.version == 3)
        #expect(header.clusterSize == 65536)
        #expect(header.size == 1_048_276)
        #expect(header.guestSize == 1_048_064)
        #expect(header.lazyRefcounts)
        #expect(!header.isDirty && !header.isCorrupt && !header.hasExtendedL2)
        #expect(header.compressionType == .zlib)
        #expect(header.extensions.backingFormat == "qcow2")
        #expect(header.extensions.backingFileName == "base images/disk.qcow2")
        #expect(header.extensions.featureNames[.init(type: 0, bit: 0)] == "dirty")
        #expect(header.compatLevel == "1.1")
    }

    @Test func version2UsesDefaultsForVersion3Fields() throws {
        let header = try HeaderBytes(version: 2).parse()
        #expect(header.headerLength == 72)
        #expect(header.refcountBits == 16)
        #expect(header.compatLevel == "0.10")
    }

    @Test func backingNameEndsAtTheFirstNul() throws {
        var h = HeaderBytes()
        h.put64(8, 512)
        h.put32(16, 8)
        h.bytes.replaceSubrange(512..<520, with: Array("abc\0defg".utf8))
        #expect(try h.parse().extensions.backingFileName == "abc")
    }

    @Test func unknownIncompatibleBitIsNamedFromTheImagesFeatureTable() {
        var h = HeaderBytes()
        h.put64(72, 1 << 7 | 1 << 9)
        var table = [UInt8](repeating: 0, count: 48)
        table[1] = 7
        table.replaceSubrange(2..<14, with: Array("frobnication".utf8))
        h.putExtension(at: 112, type: 0x6803_f857, data: table)
        let message = errorMessage { _ = try h.parse() }
        #expect(message?.contains("frobnication (bit 7), unknown bit 9") == true, "\(message ?? "")")
    }

    @Test func hugeL1IsRefusedFromTheHeaderAlone() {
        // 2^32 - 1 entries would be 32 GiB; the check needs no allocation at all.
        let message = errorMessage { _ = try HeaderBytes(l1Size: .max).parse() }
        #expect(message?.contains("active L1 table too large") == true)
    }

    @Test(arguments: [
        (UInt32(100), "shorter than 104"),
        (UInt32(108), "not a multiple of 8"),
        (UInt32(65544), "exceeds the cluster size"),
    ])
    func headerLengthRules(length: UInt32, problem: String) {
        var h = HeaderBytes()
        h.put32(100, length)
        let message = errorMessage { _ = try h.parse() }
        #expect(message?.contains(problem) == true, "\(message ?? "no error")")
    }

    @Test func truncatedHeaderSaysHowShort() {
        let h = HeaderBytes()
        let message = errorMessage {
            _ = try Array(h.bytes[..<60]).withUnsafeBytes { try Qcow2Header(head: $0, fileLength: 60, name: "t") }
        }
        #expect(message == "t: qcow2: truncated header: the file holds 60 bytes, a version 3 header needs 104")
    }

    @Test func extendedL2NeedsSubclustersOfAtLeast512Bytes() {
        var h = HeaderBytes(clusterBits: 13)
        h.put64(72, Qcow2Header.IncompatibleFeature.extendedL2)
        #expect(errorMessage { _ = try h.parse() }?.contains("extended L2 entries need clusters of at least 16 KiB") == true)
    }

    @Test func l1MustCoverTheVirtualSize() {
        // 64 KiB clusters: one L1 entry covers 512 MiB.
        #expect(errorMessage { _ = try HeaderBytes(size: 512 << 20, l1Size: 1).parse() } == nil)
        #expect(errorMessage { _ = try HeaderBytes(size: (512 << 20) + 1, l1Size: 1).parse() }?.contains("too small") == true)
    }

    @Test func headLengthIsTheFirstCluster() {
        let h = HeaderBytes(clusterBits: 21)
        #expect(h.bytes.withUnsafeBytes { Qcow2Header.headLength(from: $0) } == 2 << 20)
    }
}
