import Foundation
import DiskImportCore

/// The `<Error><Code>…</Code><Message>…</Message>…</Error>` body of an S3 error response, and the one-line message
/// diskimport makes of it. Only Code, Message and Region are read: S3's other elements (StringToSign,
/// SignatureProvided, CanonicalRequest) would put signing material into a message.
struct S3ErrorDocument: Equatable {
    var code: String
    var message: String
    /// AuthorizationHeaderMalformed and PermanentRedirect name the bucket's region.
    var region: String?

    init(code: String, message: String, region: String? = nil) {
        self.code = code
        self.message = message
        self.region = region
    }

    /// Nil when `body` holds no `<Code>` (a HEAD response has no body; a proxy may answer with HTML).
    init?(_ body: [UInt8]) {
        let text = String(decoding: body.prefix(64 << 10), as: UTF8.self)
        guard let code = Self.element("Code", in: text), !code.isEmpty else { return nil }
        self.init(code: code, message: Self.element("Message", in: text) ?? "", region: Self.element("Region", in: text))
    }

    /// The error for `status` and this document, naming the object `location` (never a credential).
    func error(status: Int, location: S3Location) -> DiskImportError {
        let object = location.displayName
        let detail = message.isEmpty ? code : "\(code): \(Self.printable(message))"
        switch code {
        case "NoSuchBucket":
            return DiskImportError(.network, "S3 bucket \(location.bucket) does not exist at \(location.endpoint) (\(detail))")
        case "NoSuchKey":
            return DiskImportError(.network, "S3 object \(object) does not exist (\(detail))")
        case "AccessDenied", "AllAccessDisabled":
            return DiskImportError(.auth, "access to \(object) is denied (\(detail)); check the key's policy or give credentials")
        case "SignatureDoesNotMatch":
            return DiskImportError(.auth, "S3 rejected the signature for \(object): the secret key does not belong to the access key (\(detail))")
        case "InvalidAccessKeyId":
            return DiskImportError(.auth, "S3 does not know the access key given for \(object) (\(detail))")
        case "ExpiredToken", "TokenRefreshRequired":
            return DiskImportError(.auth, "the session token for \(object) has expired (\(detail)); get new temporary credentials")
        case "InvalidToken":
            return DiskImportError(.auth, "the session token for \(object) is not valid (\(detail))")
        case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
            let wanted = region.map { " in region \($0)" } ?? ""
            return DiskImportError(.network, "bucket \(location.bucket) is\(wanted), not in region \(location.region) (\(detail)); give --region")
        default:
            return DiskImportError(status >= 500 ? .network : (status == 401 || status == 403 ? .auth : .network),
                                   "S3 answered \(status) for \(object) (\(detail))")
        }
    }

    /// The error for a status without a document (a HEAD, or a body that is not S3's).
    static func error(status: Int, location: S3Location) -> DiskImportError {
        switch status {
        case 404: return DiskImportError(.network, "S3 object \(location.displayName) does not exist (404)")
        case 401, 403: return DiskImportError(.auth, "access to \(location.displayName) is denied (\(status))")
        default: return DiskImportError(.network, "S3 answered \(status) for \(location.displayName)")
        }
    }

    /// The text of the first `<name>…</name>`, XML entities decoded.
    static func element(_ name: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(name)>"), let close = text.range(of: "</\(name)>", range: open.upperBound..<text.endIndex) else {
            return nil
        }
        return String(text[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// At most 200 characters, without line breaks or control characters: one line, whatever a server sends.
    static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : $0 }).prefix(200))
    }
}
