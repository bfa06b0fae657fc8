import DiskImportCore

/// A source that is already an open byte stream: standard input, an upload's request body, an object store's GET
/// body. Give the length when the transport knows it, and a ranged reader when the bytes can also be read at any
/// offset (an object store serves ranges), so that a format with a random-access reader can use it.
public final class StreamSource: OpenedSource {
    public let stream: ByteStream
    public let length: UInt64?
    public let displayName: String
    public let prefersRangedReads: Bool
    private let ranged: (() throws -> RandomAccessSource?)?

    /// - Parameters:
    ///   - length: the stream's length when known; by default what the stream itself says (`expectedLength`).
    ///   - ranged: opens random access to the same bytes; called only when something wants it.
    ///   - prefersRangedReads: read an image's data through `ranged` rather than the stream when its format can.
    public init(stream: ByteStream, length: UInt64? = nil, displayName: String,
                ranged: (() throws -> RandomAccessSource?)? = nil, prefersRangedReads: Bool = false) {
        self.stream = stream
        self.length = length ?? stream.expectedLength
        self.displayName = displayName
        self.ranged = ranged
        self.prefersRangedReads = prefersRangedReads
    }

    public func rangedReader() throws -> RandomAccessSource? { try ranged?() }
}
