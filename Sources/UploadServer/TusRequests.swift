import DiskImportCore
import NIOHTTP1

/// tus 1.0 on the raw endpoints (see `Tus`): creation, the offset, the chunks. The upload's URL is the endpoint it
/// was created at.
extension UploadRequestHandler {
    func tusCreate(_ head: HTTPRequestHead, _ kind: UploadKind) {
        if let refusal = coordinator.refusal() { return answer(Response(status: refusal, headers: Tus.responseHeaders())) }
        do {
            if head.headers.first(name: "Upload-Defer-Length") != nil {
                throw TusError(.badRequest, "Upload-Defer-Length is not supported: send Upload-Length")
            }
            guard let length = try Tus.number("Upload-Length", in: head.headers) else {
                throw TusError(.badRequest, "Upload-Length is required")
            }
            if Self.contentLength(head) ?? 0 > 0 {
                throw TusError(.badRequest, "creation-with-upload is not supported: create the upload, then PATCH its bytes")
            }
            let metadata = try Tus.metadata(head.headers)
            var checksum = try Self.imageChecksum(head.headers)
            if checksum == nil, let text = metadata["checksum"] {
                checksum = try Self.checksum(String(decoding: text, as: UTF8.self))
            }
            let session = try coordinator.begin(kind: kind, isTus: true, expectedLength: length, checksum: checksum)
            if length == 0 { session.endBody() }
            var headers = Tus.responseHeaders()
            headers.add(name: "Location", value: String(head.uri.split(separator: "?").first ?? ""))
            headers.add(name: "Upload-Offset", value: "0")
            answer(Response(status: .created, headers: headers))
        } catch let error as TusError {
            answer(Response(status: error.status, headers: Tus.responseHeaders(), body: error.message))
        } catch {
            answer(Response(failure: UploadFailure(error), headers: Tus.responseHeaders()))
        }
    }

    func tusHead(_ kind: UploadKind) {
        var headers = Tus.responseHeaders()
        headers.add(name: "Cache-Control", value: "no-store")
        guard let session = coordinator.session, session.isTus, session.kind == kind else {
            // A failed upload is gone (410): a new one may be created; nothing was ever created here: 404.
            return answer(Response(status: coordinator.lastFailure != nil ? .gone : .notFound, headers: headers))
        }
        takeOver(session)
        headers.add(name: "Upload-Offset", value: String(session.received))
        if let length = session.expectedLength { headers.add(name: "Upload-Length", value: String(length)) }
        answer(Response(status: .ok, headers: headers))
    }

    func tusPatch(_ head: HTTPRequestHead, _ kind: UploadKind) {
        guard let session = coordinator.session, session.isTus, session.kind == kind else {
            if let failure = coordinator.lastFailure {
                return answer(Response(failure: failure, headers: Tus.responseHeaders()))
            }
            return answer(Response(status: coordinator.done ? .conflict : .notFound, headers: Tus.responseHeaders()))
        }
        do {
            guard head.headers.first(name: "Content-Type") == Tus.offsetContentType else {
                throw TusError(.unsupportedMediaType, "Content-Type must be \(Tus.offsetContentType)")
            }
            guard let offset = try Tus.number("Upload-Offset", in: head.headers) else {
                throw TusError(.badRequest, "Upload-Offset is required")
            }
            let chunkChecksum = try TusChunkChecksum(head.headers)
            takeOver(session)
            guard offset == session.received else {
                var headers = Tus.responseHeaders()
                headers.add(name: "Upload-Offset", value: String(session.received))
                return answer(Response(status: .conflict, headers: headers,
                                       body: "Upload-Offset \(offset) is not the upload's offset \(session.received)"))
            }
            let length = session.expectedLength ?? 0
            if let bodyLength = Self.contentLength(head), offset + bodyLength > length {
                throw TusError(.payloadTooLarge, "the chunk goes past Upload-Length \(length)")
            }
            let feed = try RequestFeed(tus: session, checksum: chunkChecksum, handler: self)
            startFeeding(feed, head)
            // A failure of the upload while this chunk arrives is answered at once.
            awaitAnswer(session, async: kind.async, onlyFailures: true) { _ in Response(status: .noContent) }
        } catch let error as TusError {
            answer(Response(status: error.status, headers: Tus.responseHeaders(), body: error.message))
        } catch {
            answer(Response(failure: UploadFailure(error), headers: Tus.responseHeaders()))
        }
    }

    /// This connection's request now feeds `session`; an older request on another connection is closed.
    private func takeOver(_ session: UploadSession) {
        if let old = session.feeder, old !== self {
            session.feeder = nil
            old.supersede()
        }
    }
}
