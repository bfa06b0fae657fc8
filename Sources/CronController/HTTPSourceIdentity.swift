import DiskImportCore
import Fetch

/// The server's identity of one version of an HTTP file: its entity tag, or else its Last-Modified date with its
/// length. It is what the controller stores as an HTTP cron's digest, written so that it reads back into the
/// validators of the next conditional HEAD:
///
///     etag:"65f1c2a0-4000000"
///     last-modified:Wed, 13 Mar 2026 10:00:00 GMT;length:67108864
///
/// A file's volume is named from a SHA-256 of this text (`<managedDataSource>-<first 12 hex>`), as a registry
/// image's is from its digest.
public struct HTTPSourceIdentity: Sendable, Equatable, CustomStringConvertible {
    public var etag: String?
    public var lastModified: String?
    public var contentLength: UInt64?

    static let etagPrefix = "etag:"
    static let lastModifiedPrefix = "last-modified:"
    static let lengthSeparator = ";length:"
    /// A stored identity is one line of printable ASCII of at most this many bytes (a server's header could be longer).
    static let maximumLength = 1024

    /// The identity the validators of a response give: the ETag when there is one, else Last-Modified with the
    /// length. Throws when the server sends neither, since versions cannot then be told apart.
    public init(_ validators: HTTPValidators, url: String) throws {
        if let etag = validators.etag, !etag.isEmpty {
            self.etag = etag
        } else if let date = validators.lastModified, !date.isEmpty {
            lastModified = date
            contentLength = validators.contentLength
        } else {
            throw DiskImportError.corrupt("\(DisplayURL.redacted(url)) has neither an ETag nor a Last-Modified header: "
                + "its versions cannot be told apart")
        }
        guard Self.isStorable(description) else {
            throw DiskImportError.corrupt("\(DisplayURL.redacted(url)) sent an ETag or Last-Modified that is not one line of "
                + "printable text of at most \(Self.maximumLength) bytes")
        }
    }

    /// Reads a stored identity back; nil when `text` is not one (a registry digest, a damaged record).
    public init?(stored text: String) {
        if text.hasPrefix(Self.etagPrefix) {
            etag = String(text.dropFirst(Self.etagPrefix.count))
        } else if text.hasPrefix(Self.lastModifiedPrefix) {
            let rest = text.dropFirst(Self.lastModifiedPrefix.count)
            if let separator = rest.range(of: Self.lengthSeparator) {
                lastModified = String(rest[..<separator.lowerBound])
                contentLength = UInt64(rest[separator.upperBound...])
            } else {
                lastModified = String(rest)
            }
        } else {
            return nil
        }
        guard Self.isStorable(text) else { return nil }
    }

    public var description: String {
        if let etag { return Self.etagPrefix + etag }
        return Self.lastModifiedPrefix + (lastModified ?? "") + (contentLength.map { Self.lengthSeparator + String($0) } ?? "")
    }

    /// The headers that make an import fail rather than read another version: `If-Match` with a strong ETag, else
    /// `If-Unmodified-Since` with the date. A weak ETag pins nothing (If-Match compares strongly, RFC 9110 §13.1.1).
    public var pinHeaders: [String] {
        if let etag {
            return etag.hasPrefix("\"") ? ["If-Match: \(etag)"] : []
        }
        return lastModified.map { ["If-Unmodified-Since: \($0)"] } ?? []
    }

    static func isStorable(_ text: String) -> Bool {
        text.utf8.count <= maximumLength && text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
    }

    /// The first 12 hex digits of SHA-256 of the stored text: the volume-name suffix.
    static func volumeSuffix(of stored: String) throws -> String {
        let digest = try Digest(.sha256)
        Array(stored.utf8).withUnsafeBytes { digest.update($0) }
        return String(Digest.hex(digest.finalize()).prefix(12))
    }
}
