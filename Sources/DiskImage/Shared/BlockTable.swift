import DiskImportCore

/// A table mapping fixed-size guest blocks to offsets in the image file, one 32-bit entry per block: a vdi's block
/// map, a dynamic vhd's BAT. Entry `e` of an allocated block puts its data at `base + e * scale` in the file
/// (vdi: the data offset plus `e` blocks; vhd: `e` sectors plus the block's sector bitmap).
///
/// Parsed from bytes in memory (`init(bytes:…)`), so the checks run on a buffer as well as on a file.
struct BlockTable: Sendable {
    /// The most table bytes read: 8 Mi entries, far beyond any real image (a 2040 GiB vhd with 2 MiB blocks has
    /// 1 Mi entries), and a bound on memory whatever a header claims.
    static let maximumBytes = 32 << 20

    let entries: [UInt32]
    let blockSize: UInt64
    let virtualSize: UInt64
    let base: UInt64
    let scale: UInt64
    /// Entries at or above this value map no block.
    let firstUnmapped: UInt32

    /// Entries needed to cover `virtualSize` with blocks of `blockSize` bytes.
    static func entryCount(virtualSize: UInt64, blockSize: UInt64) -> Int {
        Int((virtualSize + blockSize - 1) / blockSize)
    }

    /// The table in `bytes`: `count` entries, big- or little-endian.
    init(bytes: [UInt8], count: Int, bigEndian: Bool, blockSize: UInt64, virtualSize: UInt64, base: UInt64, scale: UInt64,
         firstUnmapped: UInt32) {
        precondition(bytes.count >= count * 4)
        entries = bytes.withUnsafeBytes { raw in
            (0..<count).map { index in
                let value = raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)
                return bigEndian ? UInt32(bigEndian: value) : UInt32(littleEndian: value)
            }
        }
        self.blockSize = blockSize
        self.virtualSize = virtualSize
        self.base = base
        self.scale = scale
        self.firstUnmapped = firstUnmapped
    }

    /// Where block `index`'s data lies in the file; nil when the table maps none.
    func host(ofBlock index: Int) -> UInt64? {
        guard index < entries.count, entries[index] < firstUnmapped else { return nil }
        return base + UInt64(entries[index]) * scale
    }

    /// The guest bytes block `index` holds (the last block may be cut short by the virtual size).
    func guestLength(ofBlock index: Int) -> UInt64 {
        min(blockSize, virtualSize - UInt64(index) * blockSize)
    }

    /// The mapped blocks as pieces of the file, sorted by file offset.
    func piecesByHost() -> [OrderedStream.Piece] {
        var pieces: [OrderedStream.Piece] = []
        for index in entries.indices {
            guard let host = host(ofBlock: index) else { continue }
            pieces.append(.init(host: host, guest: UInt64(index) * blockSize, length: guestLength(ofBlock: index)))
        }
        return pieces.sorted { $0.host < $1.host }
    }

    /// Refuses a table whose blocks share file bytes (two entries naming one block: a guest write through one would
    /// change the other), or, when the file's length is known, whose
    /// blocks do not lie wholly inside it.
    func check(fileLength: UInt64?, name: String, format: String) throws {
        let pieces = piecesByHost()
        for (previous, next) in zip(pieces, pieces.dropFirst()) where previous.host + blockSize > next.host {
            throw DiskImportError.corrupt("\(name): \(format): the blocks at guest offsets \(previous.guest) and \(next.guest) overlap in the file (at 0x\(String(previous.host, radix: 16)) and 0x\(String(next.host, radix: 16)))")
        }
        // Whole blocks, as qemu's vpc_open checks them (free_data_block_offset) and as every writer allocates them.
        if let fileLength, let last = pieces.last, last.host + blockSize > fileLength {
            throw DiskImportError.corrupt("\(name): \(format): the block at guest offset \(last.guest) lies past the end of the file (0x\(String(last.host, radix: 16)) + \(blockSize) > \(fileLength) bytes): the image is truncated")
        }
    }
}

/// An image read with random access whose guest blocks a `BlockTable` maps (a vdi, a dynamic vhd): mapped blocks
/// are data in `source`, unmapped ones read as zeros (`unmapped == .zeros`) or from the layer below.
final class BlockTableLayer: MappedLayer {
    let source: RandomAccessSource
    let table: BlockTable
    var virtualSize: UInt64 { table.virtualSize }
    private let unmappedIsZero: Bool

    init(source: RandomAccessSource, table: BlockTable, unmappedIsZero: Bool = true) {
        self.source = source
        self.table = table
        self.unmappedIsZero = unmappedIsZero
    }

    func forEachRun(in range: Range<UInt64>, _ body: (LayerRun) throws -> Void) throws {
        var guest = range.lowerBound
        while guest < range.upperBound {
            let index = Int(guest / table.blockSize)
            let inBlock = guest % table.blockSize
            let length = min(table.blockSize - inBlock, range.upperBound - guest)
            if let host = table.host(ofBlock: index) {
                try body(.data(host: host + inBlock, length: length))
            } else {
                try body(unmappedIsZero ? .zeros(length: length) : .below(length: length))
            }
            guest += length
        }
    }
}
