import CLinux
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The data and hole parts of a range of a local file, found with lseek(2) SEEK_DATA / SEEK_HOLE: what a block of
/// an image file really holds, so that holes inside allocated blocks (a sparse fixed vhd, a static vdi that
/// `qemu-img create` made with ftruncate) go to the target as zeros without being read. qemu-img finds them the same
/// way (block/file-posix.c find_allocation).
enum LocalDataExtents {
    /// Calls `body` with each piece of `range` of `file` in order, and whether it holds data. Where the file system
    /// cannot seek for data (EINVAL: a block device, some file systems), the whole range is data.
    static func forEachPiece(of range: Range<UInt64>, in file: FileDescriptor, path: String,
                             _ body: (Range<UInt64>, _ isData: Bool) throws -> Void) throws {
        var position = range.lowerBound
        while position < range.upperBound {
            let data = clinux_seek_data(file.rawValue, Int64(position))
            if data < 0 {
                let e = errno
                // ENXIO: no data at or after `position`.
                if e == ENXIO { return try body(position..<range.upperBound, false) }
                if e == EINVAL { return try body(position..<range.upperBound, true) }
                throw DiskImportError.io("seek data in", path, Errno(rawValue: e))
            }
            let dataStart = min(UInt64(data), range.upperBound)
            if dataStart > position { try body(position..<dataStart, false) }
            if dataStart == range.upperBound { return }
            let hole = clinux_seek_hole(file.rawValue, data)
            if hole < 0 { throw DiskImportError.io("seek hole in", path, Errno(rawValue: errno)) }
            // A file that changes under us could report a hole at the data itself: the rest is data then.
            let dataEnd = UInt64(hole) > dataStart ? min(UInt64(hole), range.upperBound) : range.upperBound
            try body(dataStart..<dataEnd, true)
            position = dataEnd
        }
    }
}
