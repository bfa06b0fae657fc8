import DiskImportCore

/// An S3 or GCS object as a source: one GET streamed on its own thread (CDI's importer makes one GetObject too),
/// resumed after a cut with a signed ranged GET pinned to the version found; and the same object by signed ranged
/// GETs for whatever wants random access (a raw image's last sector, an xz index, a qcow2's clusters with
/// `--http-random-access`).
public final class ObjectStoreSource: OpenedSource {
    public let object: StoredObject
    public let stream: ByteStream
    public let prefersRangedReads: Bool
    private var ranged: RandomAccessSource?

    /// Opens the object's body. `purpose` bounds the download queue as for an http(s) source; `prefersRangedReads`
    /// follows `--http-random-access` (streaming is the default for the same reason: see HTTPOptions.randomAccess).
    public init(_ object: StoredObject, purpose: SourceOpener.Purpose, prefersRangedReads: Bool) throws {
        self.object = object
        self.prefersRangedReads = prefersRangedReads
        switch purpose {
        case .convert: stream = try object.stream(bufferCount: 8, bufferSize: 512 << 10)
        case .inspect: stream = try object.stream(bufferCount: 2, bufferSize: 256 << 10)
        }
    }

    public var displayName: String { object.displayName }
    public var length: UInt64? { object.length }

    /// Signed ranged GETs of the object, made once on first use (an object store always serves ranges).
    public func rangedReader() throws -> RandomAccessSource? {
        if let ranged { return ranged }
        let made = try object.rangedReader()
        ranged = made
        return made
    }
}
