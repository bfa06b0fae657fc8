import DiskImportCore
import Fetch
import NIOHTTP1

/// The tus resumable upload protocol 1.0.0 (tus.io/protocols/resumable-upload): the core protocol and the
/// creation and checksum extensions, as far as the server's headers go.
///
/// The upload's URL is the endpoint it was created at (`/v1beta1/upload-async`, `/v1beta1/upload`): CDI's upload
/// proxy forwards only those paths, with any method, to the upload server, and one upload server receives one
/// upload in its life, so the path names the upload.
enum Tus {
    static let version = "1.0.0"
    static let extensions = ["creation", "checksum"]
    /// What `Upload-Checksum` may name: the algorithms `--checksum` knows.
    static let checksumAlgorithms = DigestAlgorithm.allCases.map(\.rawValue)
    /// The content type of a PATCH body.
    static let offsetContentType = "application/offset+octet-stream"
    /// The checksum extension's status for a chunk whose digest differs.
    static let checksumMismatch = HTTPResponseStatus(statusCode: 460, reasonPhrase: "Checksum Mismatch")

    /// Whether `head` is a tus request (every tus request but OPTIONS carries `Tus-Resumable`).
    static func isTusRequest(_ head: HTTPRequestHead) -> Bool { head.headers.contains(name: "Tus-Resumable") }

    /// The headers every tus response carries.
    static func responseHeaders() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Tus-Resumable", value: version)
        return headers
    }

    /// The OPTIONS answer: what this server speaks.
    static func discoveryHeaders() -> HTTPHeaders {
        var headers = responseHeaders()
        headers.add(name: "Tus-Version", value: version)
        headers.add(name: "Tus-Extension", value: extensions.joined(separator: ","))
        headers.add(name: "Tus-Checksum-Algorithm", value: checksumAlgorithms.joined(separator: ","))
        return headers
    }

    /// A non-negative decimal header value (`Upload-Length`, `Upload-Offset`); nil when absent; throws when malformed.
    static func number(_ name: String, in headers: HTTPHeaders) throws -> UInt64? {
        guard let text = headers.first(name: name) else { return nil }
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = UInt64(text) else {
            throw TusError(.badRequest, "\(name) \"\(text.prefix(40))\" is not a non-negative integer")
        }
        return value
    }

    /// `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
    static func metadata(_ headers: HTTPHeaders) throws -> [String: [UInt8]] {
        guard let text = headers.first(name: "Upload-Metadata"), !text.isEmpty else { return [:] }
        var result: [String: [UInt8]] = [:]
        for pair in text.split(separator: ",") {
            let fields = pair.trimmedSpaces().split(separator: " ", omittingEmptySubsequences: true)
            guard let key = fields.first, fields.count <= 2 else {
                throw TusError(.badRequest, "Upload-Metadata is not comma-separated \"key base64\" pairs")
            }
            guard let value = fields.count == 2 ? Base64.decode(fields[1]) : [] else {
                throw TusError(.badRequest, "Upload-Metadata value of \(key.prefix(40)) is not base64")
            }
            result[String(key)] = value
        }
        return result
    }
}

/// `Upload-Checksum: ALGORITHM BASE64DIGEST`: the digest of one PATCH request's body.
struct TusChunkChecksum: Sendable, Equatable {
    var algorithm: DigestAlgorithm
    var digest: [UInt8]

    /// Nil when the request has no `Upload-Checksum`; throws the checksum extension's 400 when it is unusable.
    init?(_ headers: HTTPHeaders) throws {
        guard let text = headers.first(name: "Upload-Checksum") else { return nil }
        let fields = text.trimmedSpaces().split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 2, let algorithm = DigestAlgorithm(rawValue: fields[0].lowercased()) else {
            throw TusError(.badRequest, "Upload-Checksum names an unsupported algorithm (supported: \(Tus.checksumAlgorithms.joined(separator: ", ")))")
        }
        guard let digest = Base64.decode(fields[1]), digest.count == algorithm.size else {
            throw TusError(.badRequest, "Upload-Checksum is not a base64 \(algorithm.rawValue) digest")
        }
        self.algorithm = algorithm
        self.digest = digest
    }
}

/// A tus request refused before its body: the status and one line saying why.
struct TusError: Error, Equatable {
    var status: HTTPResponseStatus
    var message: String

    init(_ status: HTTPResponseStatus, _ message: String) {
        self.status = status
        self.message = message
    }
}
