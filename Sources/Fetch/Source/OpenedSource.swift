import DiskImportCore

/// An import's source once it is open: its bytes front to back, and what else it offers, asked by capability
/// (nbdkit's `can_*` idea) so that the pipeline never asks which transport it is.
///
/// Paths, http(s) URLs and docker:// references are opened by `SourceOpener`. Anything else that has a stream
/// (standard input, an upload's request body, an object in S3 or GCS) comes in as a `StreamSource`, and the Converter
/// and `info` take it as they take those.
public protocol OpenedSource: AnyObject {
    /// The source in messages and in info's `filename`: a path, a URL without credentials, a docker:// reference.
    var displayName: String { get }

    /// The source's bytes from the first, front to back. The pipeline reads it once.
    var stream: ByteStream { get }

    /// The total length when it is known up front (a file's size, a Content-Length); nil for a pipe or a chunked
    /// body.
    var length: UInt64? { get }

    /// The local file, when the source is one: read by extents and copied in the kernel, its backing files resolved
    /// beside it.
    var localFile: LocalFile? { get }

    /// Random access to the same bytes (a local file, a server that serves ranges, an object store), opened when
    /// something asks for it; nil when the source has none. Small reads (a trailer, an index) use it whenever it
    /// exists; an image's data only when `prefersRangedReads`.
    func rangedReader() throws -> RandomAccessSource?

    /// Whether a format that can should read the image's data through `rangedReader()` rather than the stream: over
    /// HTTP only with `--http-random-access` (one stream is faster on a near server: see HTTPOptions.randomAccess).
    var prefersRangedReads: Bool { get }

    /// Wrappers the transport peeled already to reach the disk (a registry layer's compression and tar), outermost
    /// first; they count towards the layer stack's bound.
    var peeledLayers: [String] { get }

    /// Bytes taken from the transport as stored, when the stream is not those bytes (a registry's disk stream is the
    /// file inside compressed blobs): `--json`'s `bytes-read`. Nil when the stream's bytes are what is stored.
    var storedBytesRead: UInt64? { get }

    /// Checks what the transport can only check at the end (a registry layer's digest), reading what the image
    /// reader left. Called after the reader is done and before the target is committed.
    func verifyRest() throws
}

extension OpenedSource {
    public var localFile: LocalFile? { nil }
    public func rangedReader() throws -> RandomAccessSource? { nil }
    public var prefersRangedReads: Bool { false }
    public var peeledLayers: [String] { [] }
    public var storedBytesRead: UInt64? { nil }
    public func verifyRest() throws {}
}
