import Codecs
import DiskImportCore

/// A raw image read front to back: every chunk goes to the sink at its offset; the sink turns zero runs into holes.
public final class RawStreamReader: DiskImageReader {
    private let stream: ByteStream
    private let chunkSize: Int
    public let virtualSize: UInt64?
    /// Bounds a stream of unknown length (a decompression bomb) when the reader was made with a limit.
    private let limited: SizeLimitedStream?

    public init(stream: ByteStream, virtualSize: UInt64? = nil, chunkSize: Int = 1 << 20) {
        self.stream = stream
        self.virtualSize = virtualSize ?? stream.expectedLength
        self.chunkSize = chunkSize
        limited = nil
    }

    /// A raw image of unknown size: more than `limit` bytes (`reason` says why, for the message) is an error.
    public init(stream: ByteStream, limit: UInt64, reason: String?, chunkSize: Int = 1 << 20) {
        let limited = SizeLimitedStream(stream, limit: limit, reason: reason)
        self.limited = limited
        self.stream = limited
        virtualSize = nil
        self.chunkSize = chunkSize
    }

    public var decodedSizeLimit: (any DecodedSizeLimit)? { limited }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        var offset: UInt64 = 0
        while true {
            let n = try stream.readFully(into: buffer)
            if n == 0 { break }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]), at: offset)
            offset += UInt64(n)
            progress.addGuestBytes(UInt64(n))
            if n < buffer.count { break }
        }
        return offset
    }
}
