import DiskImportCore

/// The metadata region's items that say how to read the disk (qemu's vhdx_parse_metadata, block/vhdx.c): the file
/// parameters (block size, whether the image has a parent), the virtual disk size and the sector sizes.
struct VhdxMetadata: Equatable, Sendable {
    var blockSize: UInt32
    /// Fixed images keep every block allocated (the file parameters' LeaveBlocksAllocated bit).
    var leaveBlocksAllocated: Bool
    /// A differencing image: blocks it does not hold come from the parent its parent locator names.
    var hasParent: Bool
    var virtualDiskSize: UInt64
    var logicalSectorSize: UInt32
    var physicalSectorSize: UInt32
    /// Where the parent locator item lies in the file (present only in a differencing image).
    var parentLocator: Range<UInt64>?

    /// MS-VHDX 2.6.2.1 and qemu's VHDX_BLOCK_SIZE_MIN / _MAX.
    static let blockSizes: ClosedRange<UInt32> = (1 << 20)...(256 << 20)
    /// The metadata table at the head of the region, as qemu reads it (VHDX_METADATA_TABLE_MAX_SIZE).
    static let tableLength = 64 << 10
    /// The spec's 2^23 sectors per chunk (VHDX_MAX_SECTORS_PER_BLOCK).
    static let sectorsPerChunk: UInt64 = 1 << 23

    /// Payload blocks between two sector bitmap entries in the BAT (qemu's chunk_ratio).
    var chunkRatio: UInt64 { Self.sectorsPerChunk * UInt64(logicalSectorSize) / UInt64(blockSize) }

    /// The guest size in bytes: qemu counts whole 512-byte sectors (bs->total_sectors), so a size that is not a
    /// multiple of 512 loses its tail, as in `qemu-img info`.
    var virtualSize: UInt64 { virtualDiskSize / 512 * 512 }

    /// Payload blocks covering the virtual disk.
    var dataBlockCount: UInt64 { (virtualDiskSize + UInt64(blockSize) - 1) / UInt64(blockSize) }

    /// BAT entries the image must have: its payload entries with a sector bitmap entry after every `chunkRatio` of
    /// them (vhdx_calc_bat_entries; a differencing image has whole chunks).
    var batEntryCount: UInt64 {
        let blocks = dataBlockCount
        let bitmaps = (blocks + chunkRatio - 1) / chunkRatio
        if hasParent { return bitmaps * (chunkRatio + 1) }
        return blocks == 0 ? 0 : blocks + (blocks - 1) / chunkRatio
    }

    /// The BAT index of payload block `block`.
    func batIndex(ofBlock block: UInt64) -> UInt64 { block + block / chunkRatio }

    private struct Item {
        var offset: UInt32
        var length: UInt32
    }

    /// Reads the metadata table at the start of `region` and the items it places: each known item at most once, all
    /// five required ones present, no unknown item marked required, every item inside the region; then qemu's
    /// checks of the values (block size 1 to 256 MiB and a power of two, logical sectors of 512 or 4096 bytes).
    static func read(from view: VhdxFileView, region: Range<UInt64>) throws -> VhdxMetadata {
        let name = view.name
        func corrupt(_ message: String) -> DiskImportError { .corrupt("\(name): vhdx: \(message)") }
        guard region.count >= tableLength else {
            throw corrupt("the metadata region (\(region.count) bytes) is smaller than its 64 KiB table")
        }
        let table = try view.read(at: region.lowerBound, count: tableLength, what: "metadata table")
        let known: [VhdxGUID: String] = [.fileParameters: "file parameters", .virtualDiskSize: "virtual disk size",
                                         .page83Data: "page 83 data", .logicalSectorSize: "logical sector size",
                                         .physicalSectorSize: "physical sector size", .parentLocator: "parent locator"]
        var items: [VhdxGUID: Item] = [:]
        try table.withUnsafeBytes { bytes in
            guard bytes.hasSignature("metadata") else { throw corrupt("no \"metadata\" signature at the metadata region (\(vhdxHex(region.lowerBound)))") }
            let count = Int(bytes.le16(at: 10))
            guard 32 * (count + 1) <= tableLength else { throw corrupt("the metadata table has \(count) entries (at most 2047)") }
            for index in 0..<count {
                let entry = 32 + 32 * index
                let guid = VhdxGUID(bytes, at: entry)
                let item = Item(offset: bytes.le32(at: entry + 16), length: bytes.le32(at: entry + 20))
                guard let what = known[guid] else {
                    if bytes.le32(at: entry + 24) & 4 != 0 {
                        throw DiskImportError.unsupported("\(name): vhdx: the metadata table has a required item of unknown type \(guid)")
                    }
                    continue
                }
                if items[guid] != nil { throw corrupt("the metadata table has two \(what) items") }
                let end = UInt64(item.offset) + UInt64(item.length)
                if item.length > 0 && (item.offset < UInt32(tableLength) || end > UInt64(region.count)) {
                    throw corrupt("the \(what) item (offset \(item.offset), \(item.length) bytes) lies outside the metadata region's items (64 KiB to \(region.count) bytes)")
                }
                items[guid] = item
            }
        }
        func value(_ guid: VhdxGUID, bytes count: Int) throws -> [UInt8] {
            guard let item = items[guid] else { throw DiskImportError.unsupported("\(name): vhdx: the metadata table has no \(known[guid]!) item") }
            guard item.length >= count else { throw corrupt("the \(known[guid]!) item is \(item.length) bytes (needs \(count))") }
            return try view.read(at: region.lowerBound + UInt64(item.offset), count: count, what: known[guid]! + " item")
        }
        _ = try value(.page83Data, bytes: 16)
        let parameters = try value(.fileParameters, bytes: 8)
        var metadata = VhdxMetadata(
            blockSize: parameters.le32(at: 0), leaveBlocksAllocated: parameters.le32(at: 4) & 1 != 0,
            hasParent: parameters.le32(at: 4) & 2 != 0, virtualDiskSize: try value(.virtualDiskSize, bytes: 8).le64(at: 0),
            logicalSectorSize: try value(.logicalSectorSize, bytes: 4).le32(at: 0),
            physicalSectorSize: try value(.physicalSectorSize, bytes: 4).le32(at: 0))
        if metadata.hasParent {
            guard let item = items[.parentLocator] else { throw corrupt("a differencing image (has_parent) without a parent locator item") }
            let start = region.lowerBound + UInt64(item.offset)
            metadata.parentLocator = start..<start + UInt64(item.length)
        }
        try metadata.check(name: name)
        return metadata
    }

    private func check(name: String) throws {
        func corrupt(_ message: String) -> DiskImportError { .corrupt("\(name): vhdx: \(message)") }
        guard Self.blockSizes.contains(blockSize), blockSize.nonzeroBitCount == 1 else {
            throw corrupt("block size \(blockSize) is not a power of two from 1 MiB to 256 MiB")
        }
        guard logicalSectorSize == 512 || logicalSectorSize == 4096 else {
            throw corrupt("logical sector size \(logicalSectorSize) (only 512 and 4096 are defined)")
        }
        guard physicalSectorSize == 512 || physicalSectorSize == 4096 else {
            throw corrupt("physical sector size \(physicalSectorSize) (only 512 and 4096 are defined)")
        }
        // MS-VHDX 2.6.2.2: at most 64 TiB. (The spec also asks for a multiple of the logical sector, which qemu does
        // not check: it reads whole 512-byte sectors, `virtualSize`.)
        guard virtualDiskSize <= 64 << 40 else {
            throw corrupt("virtual disk size \(virtualDiskSize) is larger than 64 TiB")
        }
    }
}
