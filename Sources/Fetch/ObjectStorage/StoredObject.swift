import DiskImportCore

/// An object in an object store (S3 or GCS), found and described, ready to be read from its start.
public protocol StoredObject: Sendable {
    /// `s3://bucket/key` or `gs://bucket/object`: how messages and progress name it.
    var displayName: String { get }
    /// The object's length as stored.
    var length: UInt64 { get }
    /// The bytes from the start, downloaded on their own thread (resumed after a cut) into a bounded queue.
    func stream(bufferCount: Int, bufferSize: Int) throws -> HTTPStream
}

extension S3Object: StoredObject {
    public var displayName: String { location.displayName }
}

extension GCSObject: StoredObject {
    public var displayName: String { location.displayName }
}

/// How to reach object stores: endpoints, region, credentials. The CLI fills it from flags and AWS's and Google's
/// variables, the pod mode from CDI's environment.
public struct ObjectStoreAccess: Sendable {
    /// An S3-compatible endpoint instead of AWS (`--s3-endpoint`, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL).
    public var s3Endpoint: String?
    /// The signing region (`--region`, AWS_REGION, AWS_DEFAULT_REGION); nil derives it as CDI does.
    public var region: String?
    /// Nil sends S3 requests unsigned (a public bucket).
    public var s3Credentials: S3Credentials?
    /// Where gs:// URLs go (`--gcs-endpoint`, STORAGE_EMULATOR_HOST, else Google's).
    public var gcsEndpoint = GCSLocation.googleEndpoint
    /// Nil reads GCS objects anonymously.
    public var gcsKey: ServiceAccountKey?

    public init() {}

    /// Whether `text` is an s3:// or gs:// URL.
    public static func names(_ text: String) -> Bool { text.hasPrefix("s3://") || text.hasPrefix("gs://") }

    /// Finds the object an s3:// or gs:// URL names.
    public func open(_ text: String, options: HTTPOptions) throws -> StoredObject {
        if text.hasPrefix("s3://") {
            return try S3Object.open(S3Location(s3URL: text, endpoint: s3Endpoint, region: region), credentials: s3Credentials, options: options)
        }
        guard text.hasPrefix("gs://") else { throw DiskImportError.usage("\(text) is not an s3:// or gs:// URL") }
        return try GCSObject.open(GCSLocation(gsURL: text, endpoint: gcsEndpoint), key: gcsKey, options: options)
    }
}
