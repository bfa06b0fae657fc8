import DiskImportCore

/// The 512-byte header at the start of a VirtualBox disk image (little-endian), checked as qemu's vdi_open checks
/// it (block/vdi.c), with qemu's messages. Parsed from bytes in memory.
public struct VdiHeader: Sendable, Equatable {
    public static let length = 512
    /// block/vdi.c VDI_SIGNATURE, at offset 0x40.
    static let signature: UInt32 = 0xbeda107f
    static let version1_1: UInt32 = 0x0001_0001
    static let sectorSize: UInt64 = 512
    /// block/vdi.c DEFAULT_CLUSTER_SIZE: qemu reads no other block size.
    static let blockSize: UInt32 = 1 << 20
    /// block/vdi.c VDI_BLOCKS_IN_IMAGE_MAX and VDI_DISK_SIZE_MAX.
    static let maximumBlocks: UInt32 = (UInt32(Int32.max) + 1 - 512) / 4
    static let maximumDiskSize = UInt64(maximumBlocks) * UInt64(blockSize)
    /// Block map values: VDI_UNALLOCATED (0xffffffff) and VDI_DISCARDED (0xfffffffe) map no block and read as zeros.
    static let firstUnmappedEntry: UInt32 = 0xffff_fffe

    public enum ImageType: UInt32, Sendable {
        case dynamic = 1
        case `static` = 2
    }

    public var imageType: UInt32
    public var offsetBlockMap: UInt32
    public var offsetData: UInt32
    /// The disk size rounded up to a whole sector, as qemu rounds it ('VBoxManage convertfromraw' writes odd sizes).
    public var diskSize: UInt64
    public var blockSize: UInt32
    public var blocksInImage: UInt32
    public var blocksAllocated: UInt32

    /// Parses and checks the header in `bytes` (at least 512 bytes); `name` names the image in messages.
    public init(bytes: [UInt8], name: String) throws {
        guard bytes.count >= Self.length else {
            throw DiskImportError.corrupt("\(name): vdi: truncated header (\(bytes.count) of \(Self.length) bytes)")
        }
        let fields = ByteFields(Array(bytes[..<Self.length]))
        func refuse(_ what: String) -> DiskImportError { .unsupported("\(name): vdi: \(what)") }
        let rawDiskSize = fields.littleEndian64(0x170)
        if rawDiskSize > Self.maximumDiskSize {
            throw refuse("Unsupported VDI image size (size is 0x\(String(rawDiskSize, radix: 16)), max supported is 0x\(String(Self.maximumDiskSize, radix: 16)))")
        }
        diskSize = (rawDiskSize + Self.sectorSize - 1) / Self.sectorSize * Self.sectorSize
        imageType = fields.littleEndian32(0x4c)
        offsetBlockMap = fields.littleEndian32(0x154)
        offsetData = fields.littleEndian32(0x158)
        blockSize = fields.littleEndian32(0x178)
        blocksInImage = fields.littleEndian32(0x180)
        blocksAllocated = fields.littleEndian32(0x184)
        let signature = fields.littleEndian32(0x40), version = fields.littleEndian32(0x44)
        let sectorSize = fields.littleEndian32(0x168)
        let isNull = { (offset: Int) in fields.slice(offset, 16).allSatisfy { $0 == 0 } }
        // The checks in vdi_open's order, so that an image with several faults names the one qemu names.
        if signature != Self.signature {
            throw DiskImportError.corrupt("\(name): vdi: Image not in VDI format (bad signature \(Self.hex8(signature)))")
        } else if version != Self.version1_1 {
            throw refuse("unsupported VDI image (version \(version >> 16).\(version & 0xffff))")
        } else if UInt64(offsetBlockMap) % Self.sectorSize != 0 {
            throw refuse("unsupported VDI image (unaligned block map offset 0x\(String(offsetBlockMap, radix: 16)))")
        } else if UInt64(offsetData) % Self.sectorSize != 0 {
            throw refuse("unsupported VDI image (unaligned data offset 0x\(String(offsetData, radix: 16)))")
        } else if UInt64(sectorSize) != Self.sectorSize {
            throw refuse("unsupported VDI image (sector size \(sectorSize) is not \(Self.sectorSize))")
        } else if blockSize != Self.blockSize {
            throw refuse("unsupported VDI image (block size \(blockSize) is not \(Self.blockSize))")
        } else if diskSize > UInt64(blocksInImage) * UInt64(blockSize) {
            throw refuse("unsupported VDI image (disk size \(diskSize), image bitmap has room for \(UInt64(blocksInImage) * UInt64(blockSize)))")
        } else if !isNull(0x1a8) {
            throw refuse("unsupported VDI image (non-NULL link UUID)")
        } else if !isNull(0x1b8) {
            throw refuse("unsupported VDI image (non-NULL parent UUID)")
        } else if blocksInImage > Self.maximumBlocks {
            throw refuse("unsupported VDI image (too many blocks \(blocksInImage), max is \(Self.maximumBlocks))")
        }
    }

    private static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// The block map entries that cover the disk (qemu reads all `blocksInImage`; the rest map nothing readable).
    var mapEntries: Int { BlockTable.entryCount(virtualSize: diskSize, blockSize: UInt64(blockSize)) }

    /// Where the block map lies in the file, and how many bytes of it are read.
    func blockMapRange(name: String) throws -> (offset: UInt64, count: Int) {
        let count = mapEntries * 4
        guard count <= BlockTable.maximumBytes else {
            throw DiskImportError.unsupported("\(name): vdi: the block map of \(count) bytes exceeds the \(BlockTable.maximumBytes >> 20) MiB diskimport reads")
        }
        return (UInt64(offsetBlockMap), count)
    }

    /// The block map in `bytes` (as `blockMapRange` says), checked: no two entries share a block.
    func blockMap(bytes: [UInt8], name: String, fileLength: UInt64?) throws -> BlockTable {
        let table = BlockTable(bytes: bytes, count: mapEntries, bigEndian: false, blockSize: UInt64(blockSize),
                               virtualSize: diskSize, base: UInt64(offsetData), scale: UInt64(blockSize),
                               firstUnmapped: Self.firstUnmappedEntry)
        try table.check(fileLength: fileLength, name: name, format: "vdi")
        return table
    }
}
