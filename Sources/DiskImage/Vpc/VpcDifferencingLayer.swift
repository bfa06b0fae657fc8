import DiskImportCore

/// A differencing vhd read with random access: inside an allocated block, the sector bitmap before the data says
/// which sectors the child holds (bit set, most significant bit first as in the VHD specification); the others,
/// and every unallocated block, come from the parent below.
///
/// qemu 7.2's vpc driver reads a differencing disk as a dynamic one (no parent, bitmaps ignored); diskimport follows
/// the parent as qemu follows a qcow2 backing file, which is what the image means.
final class VpcDifferencingLayer: MappedLayer {
    let source: RandomAccessSource
    let table: BlockTable
    private let bitmapSize: UInt64
    var virtualSize: UInt64 { table.virtualSize }

    init(source: RandomAccessSource, table: BlockTable, bitmapSize: UInt64) {
        self.source = source
        self.table = table
        self.bitmapSize = bitmapSize
    }

    func forEachRun(in range: Range<UInt64>, _ body: (LayerRun) throws -> Void) throws {
        var guest = range.lowerBound
        while guest < range.upperBound {
            let index = Int(guest / table.blockSize)
            let blockStart = UInt64(index) * table.blockSize
            let blockEnd = min(range.upperBound, blockStart + table.blockSize)
            guard let host = table.host(ofBlock: index) else {
                try body(.below(length: blockEnd - guest))
                guest = blockEnd
                continue
            }
            let bitmap = try source.bytes(at: host - bitmapSize, count: Int(bitmapSize), what: "the vpc sector bitmap")
            while guest < blockEnd {
                let sector = Int((guest - blockStart) / 512)
                let present = bitmap[sector / 8] & (0x80 >> UInt8(sector % 8)) != 0
                var end = guest + 512
                while end < blockEnd {
                    let next = Int((end - blockStart) / 512)
                    if (bitmap[next / 8] & (0x80 >> UInt8(next % 8)) != 0) != present { break }
                    end += 512
                }
                end = min(end, blockEnd)
                try body(present ? .data(host: host + (guest - blockStart), length: end - guest) : .below(length: end - guest))
                guest = end
            }
        }
    }
}

/// A fixed vhd as a parent: the guest bytes are the file's first `virtualSize` bytes.
final class VpcFixedLayer: MappedLayer {
    let source: RandomAccessSource
    let virtualSize: UInt64

    init(source: RandomAccessSource, virtualSize: UInt64) {
        self.source = source
        self.virtualSize = virtualSize
    }

    func forEachRun(in range: Range<UInt64>, _ body: (LayerRun) throws -> Void) throws {
        try body(.data(host: range.lowerBound, length: UInt64(range.count)))
    }
}
