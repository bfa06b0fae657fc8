import DiskImportCore

/// An object in an object store (S3 or GCS), found and described, ready to be read from its start or at any offset.
public protocol StoredObject: Sendable {
    /// `s3://bucket/key` or `gs://bucket/object`: how messages and progress name it.
    var displayName: String { get }
    /// The object's length as stored.
    var length: UInt64 { get }
    /// The bytes from the start, downloaded on their own thread (resumed after a cut) into a bounded queue.
    func stream(bufferCount: Int, bufferSize: Int) throws -> HTTPStream
    /// The same bytes by signed ranged GETs, pinned to the version found (an ETag, a generation).
    func rangedReader() throws -> RandomAccessSource
}

extension S3Object: StoredObject {
    public var displayName: String { location.displayName }

    public func rangedReader() throws -> RandomAccessSource {
        HTTPRangeSource(client: client, template: getRequest, length: length, etag: etag)
    }
}

extension GCSObject: StoredObject {
    public var displayName: String { location.displayName }

    public func rangedReader() throws -> RandomAccessSource {
        HTTPRangeSource(client: client, template: getRequest, length: length, etag: nil)
    }
}
