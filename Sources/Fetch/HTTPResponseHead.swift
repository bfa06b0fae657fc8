/// The status and headers of one HTTP response (the final one, after redirects).
public struct HTTPResponseHead: Sendable {
    public var status: Int
    /// Header names lowercased, in arrival order (HTTP/2 sends them lowercase anyway).
    public var headers: [(name: String, value: String)]

    public init(status: Int, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.headers = headers
    }

    /// The first value of header `name` (any case).
    public subscript(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first(where: { $0.name == lower })?.value
    }

    public var contentLength: UInt64? { self["content-length"].flatMap { UInt64($0) } }

    /// Content-Range "bytes FIRST-LAST/TOTAL" (TOTAL may be "*").
    public var contentRange: (first: UInt64, last: UInt64, total: UInt64?)? {
        guard let value = self["content-range"], value.hasPrefix("bytes ") else { return nil }
        let parts = value.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let bounds = parts[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let first = UInt64(bounds[0]), let last = UInt64(bounds[1]), first <= last else { return nil }
        return (first, last, UInt64(parts[1]))
    }

    /// The ETag when it is strong (a weak `W/"..."` tag may not be used in If-Range).
    public var strongETag: String? {
        guard let tag = self["etag"], tag.hasPrefix("\"") else { return nil }
        return tag
    }

    public var lastModified: String? { self["last-modified"] }

    /// Whether the server says it serves byte ranges of this resource.
    public var acceptsRanges: Bool { self["accept-ranges"]?.lowercased().contains("bytes") ?? false }

    /// The whole resource's length: from Content-Range on a 206, else Content-Length on a 200.
    public var resourceLength: UInt64? {
        if status == 206 { return contentRange?.total }
        return contentLength
    }
}
