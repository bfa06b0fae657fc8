import DiskImportCore

/// What a payload block's BAT entry says (block/vhdx.h PAYLOAD_BLOCK_*, the low 3 bits of the entry).
enum VhdxBlockState: Equatable, Sendable {
    /// NOT_PRESENT, UNDEFINED, ZERO, UNMAPPED (and v0.95's UNMAPPED): qemu's vhdx_co_readv reads zeros.
    case zero
    /// FULLY_PRESENT: the block's bytes lie in the file at this offset.
    case present(fileOffset: UInt64)
    /// PARTIALLY_PRESENT: a differencing image's block, its sector bitmap saying which sectors are here.
    case partial(fileOffset: UInt64)

    init?(entry: UInt64) {
        let offset = entry & 0xFFFF_FFFF_FFF0_0000
        switch entry & 7 {
        case 0, 1, 2, 3, 5: self = .zero
        case 6: self = .present(fileOffset: offset)
        case 7: self = .partial(fileOffset: offset)
        default: return nil
        }
    }
}

/// The block allocation table: one entry per payload block, with a sector bitmap entry after every chunk ratio of
/// them (qemu's vhdx_open reads bat_entries of them and checks each present block against the regions).
struct VhdxBlockTable: Sendable {
    let metadata: VhdxMetadata
    /// The payload blocks' BAT entries, in guest order (8 bytes each: a decoded state would take 16); each decodes
    /// to a `VhdxBlockState`, checked when read.
    private let entries: [UInt64]

    /// The most BAT bytes read into memory: 4 Mi entries, a 4 TiB disk of 1 MiB blocks (128 TiB of 32 MiB ones).
    static let maxBytes: UInt64 = 32 << 20

    var blockCount: UInt64 { UInt64(entries.count) }

    func state(ofBlock block: UInt64) -> VhdxBlockState { VhdxBlockState(entry: entries[Int(block)])! }

    /// Reads the BAT in `region` and checks every present block: past the 1 MiB header section, clear of the log,
    /// the BAT and the metadata region (`taken`), inside the file when its length is known, and overlapping no other
    /// block. A non-differencing image's block may not be partially present (qemu fails such a read with EIO).
    static func read(from view: VhdxFileView, region: Range<UInt64>, metadata: VhdxMetadata,
                     taken: [(range: Range<UInt64>, what: String)]) throws -> VhdxBlockTable {
        let name = view.name
        func corrupt(_ message: String) -> DiskImportError { .corrupt("\(name): vhdx: \(message)") }
        let entries = metadata.batEntryCount
        guard entries * 8 <= UInt64(region.count) else {
            throw corrupt("the BAT region (\(region.count) bytes) is too small for the \(entries) entries of a \(metadata.virtualDiskSize)-byte disk of \(metadata.blockSize)-byte blocks")
        }
        guard entries * 8 <= maxBytes else {
            throw DiskImportError(.limit, "\(name): vhdx: the BAT has \(entries) entries, more than the \(maxBytes >> 20) MiB this reader holds in memory")
        }
        let raw = try view.read(at: region.lowerBound, count: Int(entries * 8), what: "BAT")
        var blocks: [UInt64] = []
        blocks.reserveCapacity(Int(metadata.dataBlockCount))
        try raw.withUnsafeBytes { bytes in
            for block in 0..<metadata.dataBlockCount {
                let entry = bytes.le64(at: Int(metadata.batIndex(ofBlock: block)) * 8)
                guard let state = VhdxBlockState(entry: entry) else {
                    throw corrupt("BAT entry of block \(block) has the undefined state \(entry & 7)")
                }
                if case .partial = state, !metadata.hasParent {
                    throw corrupt("block \(block) is partially present in an image without a parent")
                }
                blocks.append(entry)
            }
        }
        let table = VhdxBlockTable(metadata: metadata, entries: blocks)
        try table.checkPlacement(name: name, fileLength: view.length, taken: taken)
        return table
    }

    /// The file offset of each block with data, by file offset.
    func storedBlocks() -> [(fileOffset: UInt64, block: UInt64)] {
        var stored: [(fileOffset: UInt64, block: UInt64)] = []
        for block in 0..<blockCount {
            switch state(ofBlock: block) {
            case .present(let offset), .partial(let offset): stored.append((offset, block))
            case .zero: break
            }
        }
        return stored.sorted { $0.fileOffset < $1.fileOffset }
    }

    /// Guest bytes of block `block`: a whole block, or what is left of the disk for the last one.
    func guestLength(ofBlock block: UInt64) -> UInt64 {
        min(UInt64(metadata.blockSize), metadata.virtualSize - min(metadata.virtualSize, block * UInt64(metadata.blockSize)))
    }

    private func checkPlacement(name: String, fileLength: UInt64?, taken: [(range: Range<UInt64>, what: String)]) throws {
        func corrupt(_ message: String) -> DiskImportError { .corrupt("\(name): vhdx: \(message)") }
        let blockSize = UInt64(metadata.blockSize)
        var previous: (range: Range<UInt64>, block: UInt64)?
        for (offset, block) in storedBlocks() {
            let range = offset..<offset + blockSize
            let what = "block \(block) (at \(vhdxHex(offset)))"
            if offset < VhdxHeaderSection.size { throw corrupt("\(what) lies in the 1 MiB header section") }
            if let clash = taken.first(where: { $0.range.overlaps(range) }) {
                throw corrupt("\(what) overlaps \(clash.what) (\(vhdxHex(clash.range.lowerBound)), \(clash.range.count) bytes)")
            }
            if let previous, previous.range.overlaps(range) {
                throw corrupt("\(what) overlaps block \(previous.block) (at \(vhdxHex(previous.range.lowerBound)))")
            }
            if let fileLength, offset + guestLength(ofBlock: block) > fileLength {
                throw corrupt("\(what) lies past the end of the file (\(fileLength) bytes)")
            }
            previous = (range, block)
        }
    }
}
