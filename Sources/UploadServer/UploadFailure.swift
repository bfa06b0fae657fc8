import DiskImportCore
import NIOHTTP1

/// A failed upload as its client is told: CDI's status and body (pkg/uploadserver handleStreamError): 400 with
/// "effective image size is larger than the reported available storage" when the volume cannot hold the image
/// (ENOSPC, EDQUOT, a size validation), 400 for a request that does not parse or whose bytes fail their checksum,
/// 500 for everything else, the body
/// always "Saving stream failed: …".
struct UploadFailure: Error, Sendable, CustomStringConvertible {
    var status: HTTPResponseStatus
    /// The reason, one line, without the "Saving stream failed: " prefix.
    var reason: String

    var description: String { reason }

    /// The response body.
    var body: String { "Saving stream failed: \(reason)" }

    init(status: HTTPResponseStatus, reason: String) {
        self.status = status
        self.reason = reason
    }

    /// The answer for an error thrown by the import or by the body's parsing.
    init(_ error: any Error) {
        switch error {
        case let failure as UploadFailure:
            self = failure
        case let multipart as MultipartFormReader.Failure:
            switch multipart {
            case .notMultipart(let text), .malformed(let text): self.init(status: .badRequest, reason: text)
            }
        case let error as DiskImportError:
            switch error.kind {
            case .space:
                self.init(status: .badRequest,
                          reason: "effective image size is larger than the reported available storage: \(error.message)")
            case .checksum:
                // The bytes are not the image the client meant: its request is at fault.
                self.init(status: .badRequest, reason: error.message)
            case .scratchRequired:
                // CDI's common.ScratchSpaceRequired, then what needed it.
                self.init(status: .internalServerError, reason: "scratch space required and none found: \(error.message)")
            default:
                self.init(status: .internalServerError, reason: error.message)
            }
        default:
            self.init(status: .internalServerError, reason: "\(error)")
        }
    }

    /// The body ended early or its connection broke.
    static func truncated(_ reason: String) -> UploadFailure {
        UploadFailure(status: .badRequest, reason: reason)
    }
}
