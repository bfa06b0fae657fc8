import DiskImportCore
import Testing
@testable import DiskImage

/// The vdi and vhd parsers on buffers in memory (the entry points a fuzzer drives): qemu's checks and size rules.
@Suite struct BlockMapHeaderTests {
    /// A vhd footer with `creator`, a current_size and a geometry, its checksum right unless told otherwise.
    static func footer(creator: String, currentSize: UInt64, cylinders: UInt16, heads: UInt8, sectors: UInt8,
                       breakChecksum: Bool = false) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 512)
        bytes.replaceSubrange(0..<8, with: Array("conectix".utf8))
        bytes.replaceSubrange(16..<24, with: withUnsafeBytes(of: UInt64.max.bigEndian, Array.init))
        bytes.replaceSubrange(28..<32, with: Array(creator.utf8))
        bytes.replaceSubrange(48..<56, with: withUnsafeBytes(of: currentSize.bigEndian, Array.init))
        bytes.replaceSubrange(56..<58, with: withUnsafeBytes(of: cylinders.bigEndian, Array.init))
        bytes[58] = heads
        bytes[59] = sectors
        bytes.replaceSubrange(60..<64, with: [0, 0, 0, 3])
        let checksum = ~bytes.reduce(UInt32(0)) { $0 &+ UInt32($1) } &+ (breakChecksum ? 1 : 0)
        bytes.replaceSubrange(64..<68, with: withUnsafeBytes(of: checksum.bigEndian, Array.init))
        return bytes
    }

    /// qemu 7.2's table in block/vpc.c vpc_open: these creators are sized by current_size, the rest by geometry.
    @Test(arguments: [("win ", true), ("qem2", true), ("d2v ", true), ("CTXS", true), ("tap\0", true),
                      ("qemu", false), ("vpc ", false), ("wa\0\0", false), ("tap ", false)])
    func creatorChoosesGeometryOrCurrentSize(_ creator: String, bySize: Bool) throws {
        let footer = try VpcFooter(bytes: Self.footer(creator: creator, currentSize: 10 << 20, cylinders: 302, heads: 4, sectors: 17),
                                   name: "t")
        #expect(footer.virtualSize == (bySize ? 10 << 20 : 302 * 4 * 17 * 512))
    }

    @Test func theMaximumGeometryMeansCurrentSizeWhateverTheCreator() throws {
        let footer = try VpcFooter(bytes: Self.footer(creator: "vpc ", currentSize: 300 << 30, cylinders: 65535, heads: 16, sectors: 255),
                                   name: "t")
        #expect(footer.virtualSize == 300 << 30)
    }

    @Test func aWrongChecksumIsRefusedAsQemuRefusesIt() {
        #expect(throws: DiskImportError.self) {
            try VpcFooter(bytes: Self.footer(creator: "qemu", currentSize: 1 << 20, cylinders: 30, heads: 4, sectors: 17,
                                             breakChecksum: true), name: "t")
        }
    }

    @Test func aShortOrForeignBufferIsAnErrorNotACrash() {
        for bytes in [[], Array("conectix".utf8), [UInt8](repeating: 0xff, count: 512)] {
            #expect(throws: DiskImportError.self) { try VpcFooter(bytes: bytes, name: "t") }
            #expect(throws: DiskImportError.self) { try VdiHeader(bytes: bytes, name: "t") }
        }
    }

    /// A vdi block map whose entries 0 and 2 name the same block.
    @Test func aBlockMapWithDuplicateEntriesIsRefused() {
        let entries: [UInt32] = [0, 0xffff_ffff, 0, 1]
        let bytes = entries.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
        let table = BlockTable(bytes: bytes, count: 4, bigEndian: false, blockSize: 1 << 20, virtualSize: 4 << 20,
                               base: 4096, scale: 1 << 20, firstUnmapped: VdiHeader.firstUnmappedEntry)
        #expect(table.host(ofBlock: 1) == nil)
        #expect(table.host(ofBlock: 3) == 4096 + (1 << 20))
        #expect(throws: DiskImportError.self) { try table.check(fileLength: nil, name: "t", format: "vdi") }
    }
}
