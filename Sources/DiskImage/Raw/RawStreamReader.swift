import Codecs
import DiskImportCore

/// A raw image read front to back: every chunk goes to the sink at its offset; the sink turns zero runs into holes.
///
/// As qemu sizes raw images in whole sectors, an image whose length is not a multiple of 512 ends in zeros up to the
/// next one (`RawFormat.paddedSize`). At its end the last sector is sniffed (`FormatSniffer.detect(trailer:)`), so a
/// DMG is refused, and the importer removes what was written.
public final class RawStreamReader: DiskImageReader {
    private let stream: ByteStream
    private let chunkSize: Int
    public let virtualSize: UInt64?
    /// Bounds a stream of unknown length (a decompression bomb) when the reader was made with a limit.
    private let limited: SizeLimitedStream?
    /// The wrappers around the image, for the message: " inside gzip".
    private let inside: String
    /// Whether the last sector is sniffed at the end (a DMG refused); false under `-f raw`.
    private let sniffsTrailer: Bool

    /// - Parameter virtualSize: the image's length when the layer knows it (by default the stream's own).
    public init(stream: ByteStream, virtualSize: UInt64? = nil, inside: String = "", sniffsTrailer: Bool = true,
                chunkSize: Int = 1 << 20) {
        self.stream = stream
        self.sniffsTrailer = sniffsTrailer
        self.virtualSize = (virtualSize ?? stream.expectedLength).map(RawFormat.paddedSize)
        self.chunkSize = chunkSize
        self.inside = inside
        limited = nil
    }

    /// A raw image of unknown size: more than `limit` bytes (`reason` says why, for the message) is an error.
    public init(stream: ByteStream, limit: UInt64, reason: String?, inside: String = "", sniffsTrailer: Bool = true,
                chunkSize: Int = 1 << 20) {
        self.sniffsTrailer = sniffsTrailer
        let limited = SizeLimitedStream(stream, limit: limit, reason: reason)
        self.limited = limited
        self.stream = limited
        virtualSize = nil
        self.chunkSize = chunkSize
        self.inside = inside
    }

    public var decodedSizeLimit: (any DecodedSizeLimit)? { limited }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        let trailer = TrailerWindow()
        var offset: UInt64 = 0
        while true {
            let n = try stream.readFully(into: buffer)
            if n == 0 { break }
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[..<n])
            try sink.write(bytes, at: offset)
            trailer.offer(bytes, at: offset)
            offset += UInt64(n)
            progress.addGuestBytes(UInt64(n))
            if n < buffer.count { break }
        }
        if sniffsTrailer { try FormatSniffer.refuse(trailer: trailer.trailer(endingAt: offset), inside: inside) }
        return try RawFormat.pad(sink, from: offset, progress: progress)
    }
}
