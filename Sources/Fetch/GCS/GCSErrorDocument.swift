import DiskImportCore
import Foundation

/// The JSON API's error body, `{"error": {"code": 404, "message": "No such object: b/o"}}`, and the one-line
/// message diskimport makes of it.
struct GCSErrorDocument {
    var message: String?

    init(_ body: [UInt8]) {
        struct Body: Decodable {
            struct Inner: Decodable { var message: String? }
            var error: Inner?
        }
        message = (try? JSONDecoder().decode(Body.self, from: Data(body)))?.error?.message.map(S3ErrorDocument.printable)
    }

    func error(status: Int, location: GCSLocation, authenticated: Bool) -> DiskImportError {
        let detail = message.map { "\(status) \($0)" } ?? "\(status)"
        switch status {
        case 404:
            return DiskImportError(.network, "GCS object \(location.displayName) does not exist (\(detail))")
        case 401 where authenticated:
            return DiskImportError(.auth, "GCS rejected the service account's access token for \(location.displayName) (\(detail))")
        case _ where (status == 401 || status == 403) && !authenticated:
            return DiskImportError(.auth, "\(location.displayName) is not public (\(detail)); give a service account key with --credentials-file")
        case 403:
            return DiskImportError(.auth, "access to \(location.displayName) is denied (\(detail)); grant the service account storage.objects.get")
        default:
            return DiskImportError(.network, "GCS answered \(detail) for \(location.displayName)")
        }
    }
}
