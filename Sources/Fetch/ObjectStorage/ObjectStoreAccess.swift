import DiskImportCore

/// How to reach object stores: endpoints, region, credentials. The CLI fills it from flags and AWS's and Google's
/// variables (it rides in `HTTPOptions.objectStore` to `SourceOpener`); the pod mode from CDI's environment.
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

    /// Finds the object an `s3://BUCKET/KEY` URL names.
    func s3Object(_ url: String, options: HTTPOptions) throws -> S3Object {
        try S3Object.open(S3Location(s3URL: url, endpoint: s3Endpoint, region: region), credentials: s3Credentials, options: options)
    }

    /// Finds the object a `gs://BUCKET/OBJECT` URL names.
    func gcsObject(_ url: String, options: HTTPOptions) throws -> GCSObject {
        try GCSObject.open(GCSLocation(gsURL: url, endpoint: gcsEndpoint), key: gcsKey, options: options)
    }
}
