import CLinux
import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// Sums the guest data a backing chain holds, walking it as `Qcow2TransferPlanner` does (unallocated ranges looked
/// up in the image below, ranges past an image's end zeros), without reading any data.
struct Qcow2DataMeasure {
    let layers: [ChainLayer]

    func dataBytes(in range: Range<UInt64>, level: Int = 0) throws -> UInt64 {
        guard level < layers.count else { return 0 }
        let layer = layers[level]
        let end = min(range.upperBound, layer.guestSize)
        var position = range.lowerBound, total: UInt64 = 0
        while position < end {
            let extent = try layer.extent(at: position, limit: end)
            switch extent.content {
            case .unallocated:
                total += try dataBytes(in: position..<position + extent.length, level: level + 1)
            case .zero:
                break
            case .data(let host):
                total += Self.storedBytes(in: host..<host + extent.length, of: layer.source)
            case .compressed:
                total += extent.length
            }
            position += extent.length
        }
        return total
    }

    /// The part of a data range that the image file holds: within its length and, for a local file, outside its
    /// holes (lseek SEEK_DATA / SEEK_HOLE; a qcow2 made with preallocation=metadata has clusters that are holes).
    static func storedBytes(in range: Range<UInt64>, of source: RandomAccessSource) -> UInt64 {
        let end = min(range.upperBound, source.length)
        guard range.lowerBound < end else { return 0 }
        guard let fd = source.localFile?.rawValue else { return end - range.lowerBound }
        var position = range.lowerBound, total: UInt64 = 0
        while position < end {
            let data = clinux_seek_data(fd, Int64(position))
            if data < 0 { return errno == ENXIO ? total : total + end - position }
            guard UInt64(data) < end else { break }
            let hole = clinux_seek_hole(fd, data)
            let stop = hole > data ? min(UInt64(hole), end) : end
            total += stop - UInt64(data)
            position = stop
        }
        return total
    }
}
