import DiskImportCore

/// What a server says identifies one version of a resource (RFC 9110 §8.8): its entity tag and its
/// modification date, with the length that goes with the date.
public struct HTTPValidators: Sendable, Equatable {
    /// `ETag` as sent, quotes and any `W/` included.
    public var etag: String?
    /// `Last-Modified` as sent (an HTTP-date).
    public var lastModified: String?
    /// `Content-Length` of the resource.
    public var contentLength: UInt64?

    public init(etag: String? = nil, lastModified: String? = nil, contentLength: UInt64? = nil) {
        self.etag = etag
        self.lastModified = lastModified
        self.contentLength = contentLength
    }

    /// A strong entity tag: one that `If-Match` may compare (a weak `W/"…"` never matches there).
    public var strongETag: String? { etag.flatMap { $0.hasPrefix("\"") ? $0 : nil } }
}

/// The answer to a conditional HEAD.
public enum ConditionalHeadResult: Sendable, Equatable {
    /// 304 Not Modified: the version asked about is still the current one.
    case notModified
    /// The current version's validators (a 200, with whatever validators the server sends).
    case current(HTTPValidators)
}

extension HTTPClient {
    /// `HEAD url` with `If-None-Match: etag` when an entity tag is known, else `If-Modified-Since: date` (RFC 9110
    /// §13.1: a server evaluates If-None-Match and ignores If-Modified-Since when both are sent, so one is enough).
    /// No body is transferred either way. Errors are `fetch`'s: 401/403 are `.auth`, 404 and other statuses
    /// `.network`, connection failures and 5xx retried first.
    public func conditionalHead(_ url: String, ifNoneMatch etag: String? = nil, ifModifiedSince date: String? = nil) throws -> ConditionalHeadResult {
        var headers: [String] = []
        if let etag {
            headers.append("If-None-Match: \(etag)")
        } else if let date {
            headers.append("If-Modified-Since: \(date)")
        }
        let response = try fetch(url, method: .head, headers: headers)
        let head = response.head
        switch head.status {
        case 304:
            return .notModified
        case 200..<300:
            return .current(HTTPValidators(etag: head["etag"], lastModified: head.lastModified, contentLength: head.contentLength))
        default:
            throw TransferFailure.status(head.status, url: url).error
        }
    }
}
