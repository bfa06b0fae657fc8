import DiskImportCore
import Fetch
import Importer
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// One connection's HTTP/1.1 requests (parsed by NIOHTTP1, behind TLS): routes each to CDI's endpoints or tus,
/// streams upload bodies into the session with back-pressure (reading stops while the pipe is full), and answers.
///
/// Requests without a body are answered at their end, so the connection stays open for the next one; a refused
/// request with a body is answered at once, its body read and dropped (up to `discardLimit`), then the connection is
/// closed, as Go's server does for a handler that did not read the body.
final class UploadRequestHandler: ChannelDuplexHandler, BodyFeeder {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    static let discardLimit = 4 << 20

    let coordinator: UploadCoordinator
    let authorizer: ClientAuthorizer
    let logger: Logger
    /// Seconds a connection may go without a request (a request head counts as soon as it is parsed).
    private let idleTimeout: Double
    private var context: ChannelHandlerContext?
    private var sweep: RepeatedTask?

    // Reading, paused while the upload's pipe is full.
    private var readingPaused = false
    private var readPending = false

    /// What the current request's body goes to.
    enum BodyTarget {
        /// Nothing yet (between requests), or a request whose answer waits for its end.
        case none(pending: Response?)
        /// Read and dropped; the connection closes at the end (or at `discardLimit`).
        case discard(left: Int)
        /// An upload's bytes.
        case feed(RequestFeed)
        /// The body is in; the answer waits for the upload.
        case awaiting
    }
    private var target = BodyTarget.none(pending: nil)
    /// Numbers requests on this connection: an answer meant for an earlier one is dropped.
    private var requestSerial = 0
    private var head: HTTPRequestHead?
    /// The current request has its answer (sent, or waiting for the request's end).
    private var answered = false
    private var closing = false
    private var lastActivity = MonotonicClock.now()

    init(coordinator: UploadCoordinator, authorizer: ClientAuthorizer, logger: Logger, idleTimeout: Double) {
        self.coordinator = coordinator
        self.authorizer = authorizer
        self.logger = logger
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let period = TimeAmount.milliseconds(Int64(min(5, idleTimeout / 4) * 1000))
        sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in bound.value.closeIfIdle() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweep?.cancel()
        sweep = nil
        self.context = nil
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = MonotonicClock.now()
        switch unwrapInboundIn(data) {
        case .head(let head):
            requestSerial += 1
            self.head = head
            answered = false
            target = .none(pending: nil)
            dispatch(head)
        case .body(let buffer):
            switch target {
            case .feed(let feed):
                feed.body(buffer)
            case .discard(let left):
                if buffer.readableBytes >= left {
                    close()
                } else {
                    target = .discard(left: left - buffer.readableBytes)
                }
            case .none, .awaiting:
                break
            }
        case .end:
            switch target {
            case .feed(let feed):
                target = .awaiting
                feed.end()
            case .discard:
                close()
            case .none(let pending):
                if let pending { send(pending) }
            case .awaiting:
                break
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .feed(let feed) = target { feed.connectionLost() }
        target = .none(pending: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .feed(let feed) = target {
            logger.warning("upload connection failed: \(error)")
            feed.connectionLost()
            target = .none(pending: nil)
        }
        context.close(promise: nil)
    }

    // MARK: outbound: reads held while paused

    func read(context: ChannelHandlerContext) {
        if readingPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    // MARK: BodyFeeder

    func pauseReading() { readingPaused = true }

    func resumeReading() {
        guard readingPaused else { return }
        readingPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func supersede() {
        logger.info("a newer request took the upload over: closing the older connection")
        if case .feed(let feed) = target { feed.superseded() }
        target = .none(pending: nil)
        close()
    }

    // MARK: routing

    private func dispatch(_ head: HTTPRequestHead) {
        guard let route = UploadRoute(target: head.uri) else {
            return answer(Response(status: .notFound))
        }
        switch route {
        case .healthz:
            answer(Response(status: .ok, body: head.method == .HEAD ? "" : "OK"))
        case .upload(let kind):
            let tus = kind.acceptsTus && Tus.isTusRequest(head)
            if tus, head.headers.first(name: "Tus-Resumable") != Tus.version {
                var headers = Tus.responseHeaders()
                headers.add(name: "Tus-Version", value: Tus.version)
                return answer(Response(status: .preconditionFailed, headers: headers))
            }
            switch head.method {
            case .OPTIONS where kind.acceptsTus:
                answer(Response(status: .noContent, headers: Tus.discoveryHeaders()))
            case .HEAD where tus:
                authorized(head) { tusHead(kind) }
            case .HEAD where kind.async:
                // How virtctl finds the async endpoint: CDI answers 200 before any other check.
                answer(Response(status: .ok))
            case .PATCH where tus:
                authorized(head) { tusPatch(head, kind) }
            case .POST where tus:
                authorized(head) { tusCreate(head, kind) }
            case .POST:
                authorized(head) { plainUpload(head, kind) }
            default:
                // CDI's upload handlers answer 404 to any other method.
                answer(Response(status: .notFound))
            }
        }
    }

    /// Runs `body` when the client's certificate verified and names CLIENT_NAME; 401 otherwise.
    func authorized(_ head: HTTPRequestHead, _ body: () -> Void) {
        let decision: ClientAuthorizer.Decision
        if let context, let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) {
            decision = authorizer.decide(tls)
        } else {
            decision = .noCertificate
        }
        switch decision {
        case .authorized:
            body()
        case .noCertificate:
            logger.warning("\(head.method) \(head.uri): no verified client certificate: 401")
            answer(Response(status: .unauthorized))
        case .wrongName(let name):
            logger.warning("\(head.method) \(head.uri): client certificate names \"\(name ?? "")\", not CLIENT_NAME: 401")
            answer(Response(status: .unauthorized))
        }
    }

    // MARK: CDI's uploads

    private func plainUpload(_ head: HTTPRequestHead, _ kind: UploadKind) {
        if let refusal = coordinator.refusal() { return answer(Response(status: refusal)) }
        let contentType = head.headers.first(name: "x-cdi-content-type") ?? ""
        logger.info("Content type header is \"\(contentType)\"")
        if contentType == "filesystem-clone" || contentType == "blockdevice-clone" {
            return answer(Response(failure: UploadFailure(
                status: .badRequest, reason: "host-assisted clone (x-cdi-content-type: \(contentType)) is not supported by diskimport")))
        }
        do {
            let checksum = try Self.imageChecksum(head.headers)
            let multipart = kind.form ? try MultipartFormReader(contentType: head.headers.first(name: "Content-Type")) : nil
            let length = kind.form ? nil : Self.contentLength(head)
            let session = try coordinator.begin(kind: kind, isTus: false, expectedLength: length, checksum: checksum)
            startFeeding(RequestFeed(plain: session, multipart: multipart, handler: self), head)
            awaitAnswer(session, async: kind.async) { _ in Response(status: .ok) }
        } catch {
            answer(Response(failure: UploadFailure(error)))
        }
    }

    // MARK: feeding and answering

    func startFeeding(_ feed: RequestFeed, _ head: HTTPRequestHead) {
        feed.session.feeder = self
        target = .feed(feed)
        if head.headers.first(name: "Expect")?.lowercased() == "100-continue" {
            context?.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
        if feed.session.isFull { pauseReading() }
    }

    /// Answers the current request once `session` can be answered (see `UploadSession.whenAnswerable`): `success`
    /// makes the response for a good outcome; a failure is answered with CDI's status and text. With
    /// `onlyFailures`, only a failure is answered (a tus chunk's own end answers it otherwise).
    func awaitAnswer(_ session: UploadSession, async: Bool, onlyFailures: Bool = false,
                     success: @escaping (UploadImportResult?) -> Response) {
        let serial = requestSerial
        session.whenAnswerable(async: async) { [weak self] outcome in
            guard let self, self.requestSerial == serial, !self.answered, !self.closing else { return }
            switch outcome {
            case .success(let result):
                guard !onlyFailures else { return }
                if async && result == nil { session.acknowledged = true }
                self.sendFinal(success(result), tus: session.isTus, offset: session.received)
            case .failure(let failure):
                let inBody: Bool
                if case .feed = self.target { inBody = true } else { inBody = false }
                self.answer(Response(failure: failure, headers: session.isTus ? Tus.responseHeaders() : HTTPHeaders()),
                            bodyStillComing: inBody)
            }
        }
    }

    /// The answer that completes an upload: the server may exit once it is written.
    private func sendFinal(_ response: Response, tus: Bool, offset: UInt64) {
        var response = response
        if tus {
            response.headers.add(contentsOf: Tus.responseHeaders())
            response.headers.add(name: "Upload-Offset", value: String(offset))
        }
        target = .none(pending: nil)
        answered = true
        coordinator.responsePending()
        guard let loop = context?.eventLoop else { return coordinator.responseWritten() }
        let coordinator = NIOLoopBound(self.coordinator, eventLoop: loop)
        send(response) { coordinator.value.responseWritten() }
    }

    /// A tus chunk is in and the upload goes on: 204 with the new offset.
    func chunkAccepted(_ session: UploadSession) {
        target = .none(pending: nil)
        answered = true
        var headers = Tus.responseHeaders()
        headers.add(name: "Upload-Offset", value: String(session.received))
        send(Response(status: .noContent, headers: headers))
    }

    /// The body broke or was refused: answer now (and drop the rest, when it is still coming).
    func failBody(_ failure: UploadFailure, tus: Bool, bodyStillComing: Bool) {
        guard !answered else { return }
        answer(Response(failure: failure, headers: tus ? Tus.responseHeaders() : HTTPHeaders()), bodyStillComing: bodyStillComing)
    }

    /// A tus chunk's checksum did not match: 460, nothing of the chunk kept.
    func chunkRejected(_ status: HTTPResponseStatus, _ message: String) {
        target = .none(pending: nil)
        answered = true
        send(Response(status: status, headers: Tus.responseHeaders(), body: message))
    }

    /// Answers the current request: at its end when it has no body (keep-alive), else at once, then drops the body
    /// and closes.
    func answer(_ response: Response, bodyStillComing: Bool? = nil) {
        answered = true
        let coming = bodyStillComing ?? head.map(Self.hasBody) ?? false
        if coming {
            var response = response
            response.close = true
            target = .discard(left: Self.discardLimit)
            resumeReading()
            send(response)
        } else if case .awaiting = target {
            target = .none(pending: nil)
            send(response)
        } else {
            target = .none(pending: response)
        }
    }

    private func send(_ response: Response, written: (@Sendable () -> Void)? = nil) {
        guard let context, let head else {
            written?()
            return
        }
        let keepAlive = head.isKeepAlive && !response.close && !closing
        var headers = response.headers
        let body = head.method == .HEAD ? [] : Array(response.body.utf8)
        if !response.body.isEmpty { headers.replaceOrAdd(name: "Content-Type", value: "text/plain; charset=utf-8") }
        if response.status != .noContent { headers.replaceOrAdd(name: "Content-Length", value: String(response.body.utf8.count)) }
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        done.whenComplete { _ in
            written?()
            // A body still coming is read and dropped first (closing with unread bytes would reset the connection,
            // and the client could lose this answer); the discard closes at its end.
            if !keepAlive, !bound.value.isDiscarding { bound.value.close() }
        }
    }

    private var isDiscarding: Bool {
        if case .discard = target { return true }
        return false
    }

    private func close() {
        guard !closing else { return }
        closing = true
        context?.close(promise: nil)
    }

    /// Closes the connection when it has been idle between requests for longer than `idleTimeout`.
    private func closeIfIdle() {
        guard case .none(pending: nil) = target, MonotonicClock.now() - lastActivity > idleTimeout else { return }
        logger.debug("closing a connection idle for \(Int(idleTimeout)) s")
        close()
    }

    // MARK: request values

    static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if let length = contentLength(head) { return length > 0 }
        return head.headers.first(name: "Transfer-Encoding")?.lowercased().contains("chunked") == true
    }

    static func contentLength(_ head: HTTPRequestHead) -> UInt64? {
        head.headers.first(name: "Content-Length").flatMap { UInt64($0) }
    }

    /// X-Image-Checksum: the whole image's `ALGORITHM:HEX`, verified before the disk is committed.
    static func imageChecksum(_ headers: HTTPHeaders) throws -> Checksum? {
        try headers.first(name: "X-Image-Checksum").map(checksum)
    }

    static func checksum(_ text: String) throws -> Checksum {
        do {
            return try Checksum(parsing: text)
        } catch let error as DiskImportError {
            throw UploadFailure(status: .badRequest, reason: "X-Image-Checksum: \(error.message)")
        }
    }
}

/// One response: status, headers, a text body (CDI answers with short text or nothing).
struct Response {
    var status: HTTPResponseStatus
    var headers = HTTPHeaders()
    var body = ""
    /// Close the connection after it.
    var close = false

    init(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: String = "") {
        self.status = status
        self.headers = headers
        self.body = body
    }

    init(failure: UploadFailure, headers: HTTPHeaders = HTTPHeaders()) {
        self.init(status: failure.status, headers: headers, body: failure.body)
    }
}
