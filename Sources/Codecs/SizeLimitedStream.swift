import DiskImportCore

/// A bound on decoded output that the importer lowers once it knows what the target holds.
public protocol DecodedSizeLimit: AnyObject {
    /// Lowers the limit (never raises it); `reason` says where it comes from, for the message.
    func tighten(to newLimit: UInt64, reason: String?)
}

/// Passes bytes through until more than `limit` have come, then fails with a `.limit` error.
///
/// What stops a decompression bomb: a few KiB of xz can expand to terabytes, so the importer bounds a decoder's output
/// by what the target can hold (the requested size). The bytes past the limit are never handed on.
public final class SizeLimitedStream: ByteStream, DecodedSizeLimit {
    private let upstream: ByteStream
    public private(set) var limit: UInt64
    private let subject: String
    private var reason: String?
    private var total: UInt64 = 0

    /// - Parameters:
    ///   - subject: what the bytes are, for the message ("decompressed data exceeds N bytes").
    ///   - reason: where the limit comes from, appended in parentheses ("the requested size").
    public init(_ upstream: ByteStream, limit: UInt64, subject: String = "decompressed data", reason: String? = nil) {
        self.upstream = upstream
        self.limit = limit
        self.subject = subject
        self.reason = reason
    }

    public var expectedLength: UInt64? { upstream.expectedLength }

    /// Lowers the limit (never raises it): the importer learns what the target holds only after sniffing the source.
    /// `reason` says where the limit comes from, for the message ("what /dev/vdb can hold").
    public func tighten(to newLimit: UInt64, reason: String? = nil) {
        if newLimit < limit {
            limit = newLimit
            self.reason = reason
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        let (sum, overflow) = total.addingReportingOverflow(UInt64(n))
        if overflow || sum > limit {
            throw DiskImportError(.limit, "\(subject) exceeds \(limit) bytes" + (reason.map { " (\($0))" } ?? ""))
        }
        total = sum
        return n
    }
}
