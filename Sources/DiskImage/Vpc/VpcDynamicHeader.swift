import DiskImportCore

/// The dynamic disk header ("cxsparse", big-endian) at a dynamic or differencing vhd's `data_offset`, checked as
/// qemu's vpc_open checks it (block/vpc.c), with qemu's messages. Parsed from bytes in memory.
public struct VpcDynamicHeader: Sendable, Equatable {
    /// The part qemu reads; the parent locators of a differencing disk follow in the next 512 bytes.
    public static let length = 512
    static let magic = Array("cxsparse".utf8)
    /// BAT value of a block not allocated.
    static let unallocated: UInt32 = 0xffff_ffff

    public var tableOffset: UInt64
    public var maxTableEntries: UInt32
    public var blockSize: UInt32
    /// Bytes of the sector bitmap before each block's data: one bit per sector, padded to a sector.
    public var bitmapSize: UInt64 { (UInt64(blockSize) / (8 * 512) + 511) & ~511 }

    /// Parses and checks the header in `bytes` for an image of `footer`'s size.
    public init(bytes: [UInt8], footer: VpcFooter, name: String) throws {
        guard bytes.count >= Self.length, bytes.starts(with: Self.magic) else {
            throw DiskImportError.corrupt("\(name): vpc: Invalid header magic (no \"cxsparse\" dynamic disk header at offset \(footer.dataOffset))")
        }
        let fields = ByteFields(Array(bytes[..<Self.length]))
        tableOffset = fields.bigEndian64(16)
        maxTableEntries = fields.bigEndian32(28)
        blockSize = fields.bigEndian32(32)
        func refuse(_ what: String) -> DiskImportError { .corrupt("\(name): vpc: \(what)") }
        guard blockSize >= 512, blockSize & (blockSize - 1) == 0 else { throw refuse("Invalid block size \(blockSize)") }
        if footer.virtualSize / UInt64(blockSize) > 0xffff_ffff { throw refuse("Too many blocks") }
        if UInt64(maxTableEntries) * UInt64(blockSize) < footer.virtualSize {
            throw refuse("Page table too small (\(maxTableEntries) entries of \(blockSize) bytes for \(footer.virtualSize) bytes)")
        }
        if maxTableEntries > UInt32(Int32.max) / 4 { throw refuse("Max Table Entries too large (\(maxTableEntries))") }
    }

    /// Where the BAT entries that cover the disk lie, and how many bytes they take.
    func tableRange(virtualSize: UInt64, name: String) throws -> (offset: UInt64, count: Int) {
        let count = BlockTable.entryCount(virtualSize: virtualSize, blockSize: UInt64(blockSize)) * 4
        guard count <= BlockTable.maximumBytes else {
            throw DiskImportError.unsupported("\(name): vpc: the block allocation table of \(count) bytes exceeds the \(BlockTable.maximumBytes >> 20) MiB diskimport reads")
        }
        return (tableOffset, count)
    }

    /// The BAT in `bytes` (as `tableRange` says), checked: blocks apart and, when `fileLength` is known, inside the
    /// file. A block's data follows its sector bitmap: at `512 * entry + bitmapSize`.
    func table(bytes: [UInt8], virtualSize: UInt64, name: String, fileLength: UInt64?) throws -> BlockTable {
        let table = BlockTable(bytes: bytes, count: BlockTable.entryCount(virtualSize: virtualSize, blockSize: UInt64(blockSize)),
                               bigEndian: true, blockSize: UInt64(blockSize), virtualSize: virtualSize, base: bitmapSize,
                               scale: 512, firstUnmapped: Self.unallocated)
        try table.check(fileLength: fileLength, name: name, format: "vpc")
        return table
    }
}
