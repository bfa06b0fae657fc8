import DiskImportCore

/// One Cloud Storage object: `gs://BUCKET/OBJECT` on Google's endpoint, or on a custom one.
public struct GCSLocation: Sendable, Equatable {
    /// `http(s)://host[:port]`, no trailing slash.
    public var endpoint: String
    public var bucket: String
    public var object: String

    public static let googleEndpoint = "https://storage.googleapis.com"

    public init(endpoint: String, bucket: String, object: String) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.object = object
    }

    /// The endpoint a gs:// URL goes to: `override` (--gcs-endpoint), else STORAGE_EMULATOR_HOST (as Google's
    /// client libraries read it: a bare host:port means http), else Google's.
    public static func endpoint(override: String?, environment: [String: String]) throws -> String {
        if let override { return try S3Location.endpointBase(override, what: "the GCS endpoint") }
        if let emulator = environment["STORAGE_EMULATOR_HOST"], !emulator.isEmpty {
            return try S3Location.endpointBase(emulator.contains("://") ? emulator : "http://" + emulator, what: "STORAGE_EMULATOR_HOST")
        }
        return googleEndpoint
    }

    /// `gs://BUCKET/OBJECT` (taken literally) on `endpoint`.
    public init(gsURL text: String, endpoint: String) throws {
        guard text.hasPrefix("gs://") else { throw DiskImportError.usage("\(text) is not a gs://BUCKET/OBJECT URL") }
        let path = text.dropFirst("gs://".count)
        guard let slash = path.firstIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
            throw DiskImportError.usage("\(text) does not name an object: expected gs://BUCKET/OBJECT")
        }
        self.init(endpoint: endpoint, bucket: String(path[..<slash]), object: String(path[path.index(after: slash)...]))
    }

    /// CDI's IMPORTER_ENDPOINT for the gcs source (pkg/importer/gcs-datasource.go): `gs://BUCKET/OBJECT` on
    /// Google's endpoint, or `http(s)://HOST/BUCKET/OBJECT` on that host; the names are split on "/" and taken as
    /// written (CDI does not percent-decode them).
    public init(cdiEndpoint text: String, environment: [String: String]) throws {
        if text.hasPrefix("gs://") {
            try self.init(gsURL: text, endpoint: try Self.endpoint(override: nil, environment: environment))
            return
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard text.hasPrefix("http://") || text.hasPrefix("https://"), parts.count >= 5, !parts[2].isEmpty,
              !parts[3].isEmpty, !parts[4...].joined(separator: "/").isEmpty else {
            throw DiskImportError.usage("IMPORTER_ENDPOINT \"\(DisplayURL.redacted(text))\" is not gs://BUCKET/OBJECT or https://HOST/BUCKET/OBJECT")
        }
        self.init(endpoint: parts[0...2].joined(separator: "/"), bucket: String(parts[3]), object: parts[4...].joined(separator: "/"))
    }

    /// The JSON API's object resource (metadata: size, generation): the object name encoded whole, "/" included.
    var metadataURL: String {
        endpoint + "/storage/v1/b/" + S3Location.uriEncoded(bucket) + "/o/" + Self.encodedWhole(object)
    }

    /// The XML API's object URL, which CDI's Go client reads from: `ENDPOINT/BUCKET/OBJECT`.
    var downloadURL: String { endpoint + "/" + S3Location.uriEncoded(bucket) + "/" + S3Location.uriEncoded(object) }

    /// `gs://bucket/object`: how messages and progress name the object.
    public var displayName: String { "gs://\(bucket)/\(object)" }

    static func encodedWhole(_ text: String) -> String {
        S3Location.uriEncoded(text).replacingSlashes()
    }
}

private extension String {
    func replacingSlashes() -> String {
        var out = ""
        for c in self { out += c == "/" ? "%2F" : String(c) }
        return out
    }
}
