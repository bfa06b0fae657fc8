import Codecs
import DiskImportCore

extension ImageFormat {
    /// A raw disk: the guest bytes as they are. Anything the sniffer does not recognise is raw, as for qemu-img.
    public static let raw = ImageFormat(RawFormat.self)
}

/// Raw's readers: a local file by its extents (holes skipped, data shared or copied in the kernel); inside .xz, the
/// blocks decoded in parallel straight to their offsets; anything else front to back.
public enum RawFormat: DiskImageFormat {
    public static let name = "raw"
    /// No ranged reader: a raw image over HTTP is every byte either way, and one stream is the fastest way to them.
    public static var capabilities: FormatCapabilities { [.localFile, .xzBlocks] }

    public static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader {
        guard let file = source as? LocalFile else {
            throw DiskImportError.unsupported("\(options.name): raw images are read by extents only from local files")
        }
        return RawFileReader(file: file)
    }

    public static func streamingReader(_ stream: PeekableStream, length: UInt64?, options: ReaderOptions) throws -> DiskImageReader {
        guard length == nil else {
            return RawStreamReader(stream: stream, virtualSize: length, inside: options.inside, sniffsTrailer: options.sniffsRawTrailer)
        }
        return RawStreamReader(stream: stream, limit: options.decodedLimit, reason: options.decodedLimitReason, inside: options.inside,
                               sniffsTrailer: options.sniffsRawTrailer)
    }

    public static func xzBlockReader(_ xz: PeekableStream, decodedHead: [UInt8], options: ReaderOptions) throws -> DiskImageReader? {
        XzParallelRawReader(stream: xz, limit: options.decodedLimit, reason: options.decodedLimitReason,
                            inside: " inside xz" + options.inside, sniffsTrailer: options.sniffsRawTrailer, memory: options.memory)
    }

    /// The layer's length in whole sectors: known for a file, a sized body or a tar entry; unknown under compression.
    public static func describe(_ stream: PeekableStream, length: UInt64?, name: String) throws -> ImageDescription {
        ImageDescription(virtualSize: length.map(paddedSize))
    }

    /// qemu sizes a raw image in whole 512-byte sectors, the last one padded with zeros (block/file-posix.c rounds
    /// the length up with `BDRV_SECTOR_SIZE`): a 12122-byte file is a 12288-byte disk for `qemu-img info` and
    /// `convert` alike.
    public static let sectorSize: UInt64 = 512

    /// `length` rounded up to a whole sector.
    public static func paddedSize(_ length: UInt64) -> UInt64 {
        let (sum, overflow) = length.addingReportingOverflow(sectorSize - 1)
        return overflow ? length : sum / sectorSize * sectorSize
    }

    /// Writes the zeros from `end`, where a raw image's bytes ended, to its padded size; returns that size.
    static func pad(_ sink: ExtentSink, from end: UInt64, progress: TransferProgress) throws -> UInt64 {
        let size = paddedSize(end)
        if size > end {
            try sink.writeZeros(at: end, length: size - end)
            progress.addGuestBytes(size - end)
        }
        return size
    }
}
