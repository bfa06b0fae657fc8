import DiskImportCore
import Foundation

/// A Google service account key file (credentials.json: what GOOGLE_APPLICATION_CREDENTIALS and CDI's Secret for
/// the gcs source hold). `description` shows the account's e-mail, never the key.
public struct ServiceAccountKey: Sendable, CustomStringConvertible {
    public var clientEmail: String
    public var privateKeyID: String
    /// The PKCS#8 PEM private key.
    var privateKeyPEM: String
    /// Where assertions are exchanged for access tokens (Google's own when the file names none).
    public var tokenURI: String

    public static let googleTokenURI = "https://oauth2.googleapis.com/token"

    public var description: String { "service account \(clientEmail)" }

    public init(file path: String) throws {
        let bytes = try SmallFile.read(path, limit: 1 << 20, what: "credentials file")
        struct Fields: Decodable {
            var type: String?
            var client_email: String?
            var private_key_id: String?
            var private_key: String?
            var token_uri: String?
        }
        guard let fields = try? JSONDecoder().decode(Fields.self, from: Data(bytes)) else {
            throw DiskImportError.usage("credentials file \(path) is not a JSON service account key")
        }
        guard fields.type == "service_account" else {
            throw DiskImportError.usage("credentials file \(path) is not a service account key (type \"\(fields.type ?? "")\"; "
                + "only service_account keys are supported)")
        }
        guard let email = fields.client_email, let key = fields.private_key, key.contains("PRIVATE KEY") else {
            throw DiskImportError.usage("credentials file \(path) has no client_email or private_key")
        }
        clientEmail = email
        privateKeyID = fields.private_key_id ?? ""
        privateKeyPEM = key
        tokenURI = fields.token_uri ?? Self.googleTokenURI
        guard tokenURI.hasPrefix("https://") || tokenURI.hasPrefix("http://") else {
            throw DiskImportError.usage("credentials file \(path): token_uri is not an http(s) URL")
        }
    }
}
