import DiskImportCore

/// Passes bytes through until more than `limit` have come, then fails with a `.limit` error.
///
/// What stops a decompression bomb: a few KiB of xz can expand to terabytes, so the importer bounds a decoder's output
/// by what the target can hold (the requested size). The bytes past the limit are never handed on.
public final class SizeLimitedStream: ByteStream {
    private let upstream: ByteStream
    public let limit: UInt64
    private let subject: String
    private var total: UInt64 = 0

    /// - Parameter subject: what the bytes are, for the message ("decompressed data exceeds N bytes").
    public init(_ upstream: ByteStream, limit: UInt64, subject: String = "decompressed data") {
        self.upstream = upstream
        self.limit = limit
        self.subject = subject
    }

    public var expectedLength: UInt64? { upstream.expectedLength }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        let (sum, overflow) = total.addingReportingOverflow(UInt64(n))
        if overflow || sum > limit {
            throw DiskImportError(.limit, "\(subject) exceeds \(limit) bytes")
        }
        total = sum
        return n
    }
}
