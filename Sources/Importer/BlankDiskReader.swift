import DiskImage
import DiskImportCore

/// A disk with nothing to read: `length` bytes that read as zeros (CDI's blank image). The target makes them zeros
/// its own way: holes in a new file, BLKZEROOUT on a block device.
final class BlankDiskReader: DiskImageReader {
    let length: UInt64

    init(length: UInt64) { self.length = length }

    var virtualSize: UInt64? { length }

    func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        if length > 0 { try sink.writeZeros(at: 0, length: length) }
        progress.addGuestBytes(length)
        return length
    }
}
