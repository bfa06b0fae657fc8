import DiskImportCore
import Fetch
import Logging
import NIOCore
import NIOHTTP1

/// How the server's one upload ended, which decides its termination message and exit status.
enum UploadServerOutcome: Sendable {
    /// CDI's "Upload Complete".
    case complete(UploadImportResult)
    /// CDI's "Deadline Passed": no upload completed before DEADLINE.
    case deadlinePassed
    /// The import failed after an async upload had been acknowledged (CDI: "UploadServer failed", exit 1).
    case failed(UploadFailure)
}

/// Admits one upload at a time, as CDI's upload server does (pkg/uploadserver validateShouldHandleRequest): 503
/// while another is in progress (uploading or processing), 409 once one has completed. Ends the server when the
/// upload is complete, when an acknowledged one fails, or at the deadline.
///
/// Lives on the event loop.
final class UploadCoordinator {
    private let loop: any EventLoop
    private let importer: any UploadImporting
    private let logger: Logger
    private let finish: (UploadServerOutcome) -> Void

    /// The upload in progress (CDI's uploading or processing).
    private(set) var session: UploadSession?
    /// An upload completed (CDI's done).
    private(set) var done = false
    /// A tus upload that failed: its client asks about it and is told why.
    private(set) var lastFailure: UploadFailure?
    private var completed: UploadImportResult?
    private var deadlinePassed = false
    private var finished = false
    /// Final responses still being written: the server exits once they are out.
    private var pendingResponses = 0

    init(loop: any EventLoop, importer: any UploadImporting, logger: Logger, finish: @escaping (UploadServerOutcome) -> Void) {
        self.loop = loop
        self.importer = importer
        self.logger = logger
        self.finish = finish
    }

    /// Why a new upload cannot start now (503, 409), or nil.
    func refusal() -> HTTPResponseStatus? {
        if session != nil || deadlinePassed {
            logger.warning("Got concurrent upload request")
            return .serviceUnavailable
        }
        if done {
            logger.warning("Got upload request after already done")
            return .conflict
        }
        return nil
    }

    /// Starts an upload whose import thread waits for its bytes; call after `refusal()` returned nil.
    func begin(kind: UploadKind, isTus: Bool, expectedLength: UInt64?, checksum: Checksum?) throws -> UploadSession {
        let session = UploadSession(kind: kind, isTus: isTus, expectedLength: expectedLength, checksum: checksum,
                                    loop: loop, logger: logger)
        session.onEnded = { [unowned self] in self.sessionEnded($0) }
        try session.start(importer: importer)
        self.session = session
        lastFailure = nil
        logger.info("upload started: \(kind)\(isTus ? " (tus)" : "")\(expectedLength.map { ", \($0) bytes" } ?? "")")
        return session
    }

    /// A final response is being written; call `responseWritten()` once it is out (or its connection is gone).
    func responsePending() { pendingResponses += 1 }

    func responseWritten() {
        pendingResponses -= 1
        finishIfComplete()
    }

    /// A tus request stopped feeding `session` before its last byte: at the deadline, an idle upload is given up.
    func feederLeft(_ session: UploadSession) {
        if deadlinePassed, session === self.session, !session.bodyComplete, session.feeder == nil {
            logger.info("deadline passed with the upload incomplete: giving it up")
            session.breakBody(UploadFailure(status: .serviceUnavailable, reason: "deadline passed"))
        }
    }

    /// DEADLINE: wait for a request or an import in progress (as CDI does), give up an idle tus upload, then end.
    func deadlineReached() {
        guard !finished else { return }
        logger.info("deadline exceeded, shutting down")
        deadlinePassed = true
        guard let session else {
            end(.deadlinePassed)
            return
        }
        logger.info("waiting for upload to finish")
        feederLeft(session)
    }

    private func sessionEnded(_ session: UploadSession) {
        guard session === self.session else { return }
        self.session = nil
        switch session.result {
        case .success(let result)?:
            done = true
            completed = result
            logger.info("upload complete: \(session.received) bytes received")
            finishIfComplete()
        case .failure(let failure)?:
            logger.error("Saving stream failed: \(failure.reason)")
            if session.acknowledged {
                end(.failed(failure))
            } else if deadlinePassed {
                end(.deadlinePassed)
            } else {
                lastFailure = failure
            }
        case nil:
            break
        }
    }

    private func finishIfComplete() {
        if let completed, pendingResponses == 0 { end(.complete(completed)) }
    }

    private func end(_ outcome: UploadServerOutcome) {
        guard !finished else { return }
        finished = true
        finish(outcome)
    }
}
