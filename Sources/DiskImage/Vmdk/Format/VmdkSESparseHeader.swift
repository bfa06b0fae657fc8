import DiskImportCore

/// The headers of an ESXi seSparse extent (VMDKSESparseConstHeader and VMDKSESparseVolatileHeader in qemu's
/// block/vmdk.c), checked as strictly as qemu does: the format is not documented, so anything else is refused.
struct VmdkSESparseHeader: Equatable, Sendable {
    static let constMagic: UInt64 = 0xcafe_babe
    static let volatileMagic: UInt64 = 0xcafe_cafe

    var capacity: UInt64
    /// Sectors per grain (qemu accepts 8 only).
    var grainSize: UInt64
    /// Sectors per grain table (qemu accepts 64 only: 4096 entries of 8 bytes).
    var grainTableSize: UInt64
    var volatileHeaderOffset: UInt64
    var grainDirOffset: UInt64
    var grainDirSize: UInt64
    var grainTablesOffset: UInt64
    var grainsOffset: UInt64

    var gdEntries: UInt64 { grainDirSize * 512 / 8 }
    var gtesPerGT: UInt64 { grainTableSize * 512 / 8 }

    /// Parses and checks the const header (the extent's first sector), as check_se_sparse_const_header.
    init(_ bytes: UnsafeRawBufferPointer, name: String) throws {
        guard bytes.count >= 512 else { throw DiskImportError.corrupt("\(name): vmdk seSparse: truncated const header") }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        let magic = u64(0), version = u64(8), flags = u64(40)
        if magic != Self.constMagic { throw DiskImportError.corrupt("\(name): vmdk seSparse: bad const header magic: 0x\(Self.hex(magic))") }
        if version != 0x0000_0002_0000_0001 { throw DiskImportError.unsupported("\(name): vmdk seSparse: unsupported version: 0x\(Self.hex(version))") }
        capacity = u64(16)
        grainSize = u64(24)
        grainTableSize = u64(32)
        if grainSize != 8 { throw DiskImportError.unsupported("\(name): vmdk seSparse: unsupported grain size: \(grainSize)") }
        if grainTableSize != 64 { throw DiskImportError.unsupported("\(name): vmdk seSparse: unsupported grain table size: \(grainTableSize)") }
        if flags != 0 { throw DiskImportError.unsupported("\(name): vmdk seSparse: unsupported flags: 0x\(Self.hex(flags))") }
        if (48..<80).contains(where: { bytes[$0] != 0 }) { throw DiskImportError.unsupported("\(name): vmdk seSparse: unsupported reserved bits") }
        if (208..<512).contains(where: { bytes[$0] != 0 }) { throw DiskImportError.unsupported("\(name): vmdk seSparse: unsupported non-zero const header padding") }
        volatileHeaderOffset = u64(80)
        grainDirOffset = u64(128)
        grainDirSize = u64(136)
        grainTablesOffset = u64(144)
        grainsOffset = u64(192)
        if capacity > UInt64(Int64.max) / 512 || grainDirOffset > UInt64(Int64.max) / 512 || grainDirSize > (32 << 20) / 64
            || grainsOffset > UInt64(1) << 48 || grainTablesOffset > UInt64(UInt32.max) {
            throw DiskImportError.corrupt("\(name): vmdk seSparse: header offsets or sizes out of range")
        }
    }

    /// Checks the volatile header (its sector at `volatileHeaderOffset`), as check_se_sparse_volatile_header.
    static func checkVolatile(_ bytes: UnsafeRawBufferPointer, name: String) throws {
        guard bytes.count >= 512 else { throw DiskImportError.corrupt("\(name): vmdk seSparse: truncated volatile header") }
        let magic = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let replay = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        if magic != volatileMagic { throw DiskImportError.corrupt("\(name): vmdk seSparse: bad volatile header magic: 0x\(hex(magic))") }
        if replay != 0 { throw DiskImportError.unsupported("\(name): vmdk seSparse: image is dirty, replaying its journal is not supported") }
        if (32..<512).contains(where: { bytes[$0] != 0 }) { throw DiskImportError.unsupported("\(name): vmdk seSparse: unsupported non-zero volatile header padding") }
    }

    private static func hex(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }
}
