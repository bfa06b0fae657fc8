import Foundation
import DiskImportCore

/// One S3 object, addressed path-style: `ENDPOINT/BUCKET/KEY`, signed for `region`.
///
/// Path-style addressing is what CDI's importer uses (UsePathStyle in pkg/importer/s3-datasource.go), and it is
/// what every S3-compatible store (Ceph RGW, MinIO, ...) serves whatever the bucket's name.
public struct S3Location: Sendable, Equatable {
    /// `http(s)://host[:port]`, no trailing slash.
    public var endpoint: String
    public var bucket: String
    public var key: String
    public var region: String

    public init(endpoint: String, bucket: String, key: String, region: String) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.key = key
        self.region = region
    }

    /// AWS's own endpoint for `region`.
    public static func amazonEndpoint(region: String) -> String { "https://s3.\(region).amazonaws.com" }

    /// The CLI's `s3://BUCKET/KEY` (the key taken literally, as the AWS CLI does). Without `endpoint` the object is
    /// on AWS in `region` (default us-east-1); with one (`--s3-endpoint`, AWS_ENDPOINT_URL) the region, when not
    /// given, is derived from the endpoint's host as CDI derives it.
    public init(s3URL text: String, endpoint: String?, region: String?) throws {
        guard text.hasPrefix("s3://") else { throw DiskImportError.usage("\(text) is not an s3://BUCKET/KEY URL") }
        let path = text.dropFirst("s3://".count)
        guard let slash = path.firstIndex(of: "/"), slash != path.startIndex, path.index(after: slash) != path.endIndex else {
            throw DiskImportError.usage("\(text) does not name an object: expected s3://BUCKET/KEY")
        }
        let bucket = String(path[..<slash])
        let key = String(path[path.index(after: slash)...])
        if let endpoint {
            let base = try Self.endpointBase(endpoint, what: "the S3 endpoint")
            self.init(endpoint: base, bucket: bucket, key: key,
                      region: region ?? S3Region.derived(fromHost: DisplayURL.host(base)))
        } else {
            let region = region ?? S3Region.fallback
            self.init(endpoint: Self.amazonEndpoint(region: region), bucket: bucket, key: key, region: region)
        }
    }

    /// CDI's IMPORTER_ENDPOINT for the s3 source: `SCHEME://HOST[:PORT]/BUCKET/KEY`, the path percent-decoded (Go's
    /// url.Parse), http meaning plain HTTP and every other scheme HTTPS, the region derived from the host.
    public init(cdiEndpoint text: String) throws {
        guard let schemeEnd = text.range(of: "://") else {
            throw DiskImportError.usage("unable to parse endpoint \"\(DisplayURL.redacted(text))\": not SCHEME://HOST/BUCKET/KEY")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var path = rest[authorityEnd...]
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
        guard let decoded = Self.percentDecoded(path) else {
            throw DiskImportError.usage("unable to parse endpoint \"\(DisplayURL.redacted(text))\": invalid %-escape in the path")
        }
        let trimmed = decoded.drop(while: { $0 == "/" })
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard !authority.isEmpty, parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw DiskImportError.usage("IMPORTER_ENDPOINT \"\(DisplayURL.redacted(text))\" does not name an object: expected SCHEME://HOST/BUCKET/KEY")
        }
        var key = String(parts[1])
        while key.hasSuffix("/") { key.removeLast() }   // strings.Trim(path, "/")
        self.init(endpoint: (scheme == "http" ? "http://" : "https://") + authority, bucket: String(parts[0]), key: key,
                  region: S3Region.derived(fromHost: String(authority)))
    }

    /// The object's URL, each path segment URI-encoded as SigV4's canonical request wants it (RFC 3986 unreserved
    /// characters kept, "/" kept between key segments, everything else %XX), so that the path libcurl signs is the
    /// path S3 canonicalises.
    public var objectURL: String { endpoint + "/" + Self.uriEncoded(bucket) + "/" + Self.uriEncoded(key) }

    /// `s3://bucket/key`: how messages and progress name the object (never a credential).
    public var displayName: String { "s3://\(bucket)/\(key)" }

    /// The same object on AWS's endpoint for `region`, or on the same custom endpoint signed for `region`: where
    /// S3's region redirect points.
    func redirected(to region: String) -> S3Location {
        var moved = self
        moved.region = region
        let host = DisplayURL.host(endpoint)
        if host == "s3.amazonaws.com" || S3Region.amazonRegion(Substring(host)) != nil {
            moved.endpoint = Self.amazonEndpoint(region: region)
        }
        return moved
    }

    static func uriEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        for byte in text.utf8 {
            switch byte {
            case 0x41...0x5a, 0x61...0x7a, 0x30...0x39, 0x2d, 0x2e, 0x5f, 0x7e, 0x2f: out.append(byte)
            default: out += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func percentDecoded(_ text: Substring) -> String? {
        var out = [UInt8]()
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            guard byte == 0x25 else { out.append(byte); continue }
            guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            out.append(value)
            bytes = bytes.dropFirst(2)
        }
        return String(validating: out, as: UTF8.self)
    }

    /// `scheme://host[:port]` of an endpoint URL given by a user (a trailing path is not allowed: the bucket follows).
    static func endpointBase(_ text: String, what: String) throws -> String {
        guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
            throw DiskImportError.usage("\(what) \(DisplayURL.redacted(text)) is not an http:// or https:// URL")
        }
        var base = Substring(text)
        while base.hasSuffix("/") { base.removeLast() }
        let afterScheme = base.range(of: "://")!.upperBound
        guard !base[afterScheme...].contains("/"), !base[afterScheme...].isEmpty, !base.contains("@") else {
            throw DiskImportError.usage("\(what) \(DisplayURL.redacted(text)) must be scheme://host[:port], without a path or user")
        }
        return String(base)
    }
}
