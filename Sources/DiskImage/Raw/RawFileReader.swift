import CLinux
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A raw image in a local file, read by its extents: data extents (lseek SEEK_DATA / SEEK_HOLE) go to the sink as
/// local copies, which the target shares (reflink) or copies in the kernel, and holes go as zero ranges that cost
/// nothing. Nothing passes through a buffer of ours.
public final class RawFileReader: DiskImageReader {
    private let file: LocalFile
    /// The file's length rounded up to 512 bytes: qemu sizes raw images in whole sectors and reads the padding
    /// as zeros.
    public let virtualSize: UInt64?
    private let pieceSize: UInt64

    /// `pieceSize` bounds each copy so progress moves and memory stays bounded.
    public init(file: LocalFile, pieceSize: UInt64 = 64 << 20) {
        self.file = file
        self.pieceSize = pieceSize
        virtualSize = RawFormat.paddedSize(file.length)
    }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let size = virtualSize ?? file.length
        progress.setSourceTotal(file.length)
        var position: UInt64 = 0
        var pending: Range<UInt64>? = nil
        func flush(_ range: Range<UInt64>) throws {
            if range.lowerBound > position { try zeros(sink, position, range.lowerBound - position, progress) }
            var offset = range.lowerBound
            while offset < range.upperBound {
                let count = min(pieceSize, range.upperBound - offset)
                try sink.copy(from: file.descriptor, sourceOffset: offset, to: offset, length: count)
                progress.addSourceBytes(count)
                progress.addGuestBytes(count)
                offset += count
            }
            position = range.upperBound
        }
        try forEachDataExtent { extent in
            // Short holes between extents travel with the data: the target skips their zeros anyway, and one
            // call per extent of a finely fragmented file costs more than reading a little hole.
            if let current = pending, extent.lowerBound - current.upperBound < Self.mergeGap {
                pending = current.lowerBound..<extent.upperBound
                return
            }
            if let current = pending { try flush(current) }
            pending = extent
        }
        if let current = pending { try flush(current) }
        if size > position { try zeros(sink, position, size - position, progress) }
        return size
    }

    /// The file's data extents (lseek SEEK_DATA / SEEK_HOLE): what the target stores, less any zero blocks in them.
    public func allocatedData() throws -> AllocatedData? {
        var bytes: UInt64 = 0
        try forEachDataExtent { bytes += UInt64($0.count) }
        return AllocatedData(bytes: bytes, sourceFile: file.descriptor)
    }

    /// Holes shorter than this between two data extents are copied with them.
    static let mergeGap: UInt64 = 1 << 20

    private func zeros(_ sink: ExtentSink, _ offset: UInt64, _ length: UInt64, _ progress: TransferProgress) throws {
        try sink.writeZeros(at: offset, length: length)
        progress.addSourceBytes(min(length, file.length - min(offset, file.length)))
        progress.addGuestBytes(length)
    }

    /// Calls `body` with each data extent of the file in order, found with lseek(2) SEEK_DATA / SEEK_HOLE. Where
    /// seeking for data is not supported (block devices, some filesystems), the whole file is one extent.
    func forEachDataExtent(_ body: (Range<UInt64>) throws -> Void) throws {
        let fd = file.descriptor.rawValue
        let length = file.length
        var position: UInt64 = 0
        while position < length {
            let data = clinux_seek_data(fd, Int64(position))
            if data < 0 {
                let e = errno
                if e == ENXIO { return }
                if e == EINVAL && position == 0 { return try body(0..<length) }
                throw DiskImportError.io("seek data in", file.path, Errno(rawValue: e))
            }
            let hole = clinux_seek_hole(fd, data)
            if hole < 0 { throw DiskImportError.io("seek hole in", file.path, Errno(rawValue: errno)) }
            let end = min(length, UInt64(hole))
            if UInt64(data) >= end { return }
            try body(UInt64(data)..<end)
            position = end
        }
    }
}
