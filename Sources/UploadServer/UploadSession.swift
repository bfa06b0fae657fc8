import DiskImportCore
import Fetch
import Logging
import NIOCore

/// The request (connection) currently feeding an upload's bytes: the session tells it to stop or go on reading,
/// and a tus request that takes over tells the old one to go.
protocol BodyFeeder: AnyObject {
    func pauseReading()
    func resumeReading()
    /// Another request took the upload over: stop feeding and close the connection.
    func supersede()
}

/// One upload: its bytes (a `BodyPipe`), the import thread reading them, and what became of it.
///
/// Lives on the event loop: every method but the pipe's consumer side is called there. A plain POST feeds a session
/// from one request; a tus upload from any number of PATCH requests, one at a time, across connections.
final class UploadSession {
    let kind: UploadKind
    let isTus: Bool
    /// Upload-Length, or the request's Content-Length; nil for a chunked body.
    let expectedLength: UInt64?
    /// The whole image's expected digest (X-Image-Checksum, or the tus `checksum` metadata).
    let checksum: Checksum?
    let progress = TransferProgress()
    private let loop: any EventLoop
    private let logger: Logger
    private(set) var pipe: BodyPipe!
    private var thread: WorkerThread?

    /// Bytes accepted into the pipe: a tus upload's Upload-Offset.
    private(set) var received: UInt64 = 0
    /// The last byte is in.
    private(set) var bodyComplete = false
    /// The import thread has read to the end of the body.
    private(set) var consumed = false
    /// How the import ended, once it has.
    private(set) var result: Result<UploadImportResult, UploadFailure>?
    /// An async upload's 200 went out: a failure after it has nobody left to tell.
    var acknowledged = false
    /// The request feeding bytes right now.
    weak var feeder: BodyFeeder?

    private var readyWaiters: [(async: Bool, callback: (Result<UploadImportResult?, UploadFailure>) -> Void)] = []
    /// The coordinator's hook: the import ended.
    var onEnded: ((UploadSession) -> Void)?

    init(kind: UploadKind, isTus: Bool, expectedLength: UInt64?, checksum: Checksum?, loop: any EventLoop, logger: Logger) {
        self.kind = kind
        self.isTus = isTus
        self.expectedLength = expectedLength
        self.checksum = checksum
        self.loop = loop
        self.logger = logger
    }

    /// Starts the import thread, which waits for bytes.
    func start(importer: any UploadImporting) throws {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let loop = self.loop
        pipe = BodyPipe(expectedLength: expectedLength,
                        onSpace: { loop.execute { bound.value.feeder?.resumeReading() } },
                        onEnd: { loop.execute { bound.value.bodyConsumed() } })
        let job = ImportJob(session: bound, importer: importer, kind: kind, pipe: pipe, checksum: checksum,
                            progress: progress, loop: loop, logger: logger)
        thread = try WorkerThread(job)
    }

    // MARK: bytes in

    /// Queues bytes of the body; the feeder pauses when the pipe is full.
    func accept(_ buffer: ByteBuffer) {
        received += UInt64(buffer.readableBytes)
        if !pipe.append(buffer) { feeder?.pauseReading() }
    }

    /// Whether the pipe wants no more for now (a new feeder starts paused).
    var isFull: Bool { pipe.isProducerPaused }

    /// The last byte is in.
    func endBody() {
        bodyComplete = true
        pipe.finish()
    }

    /// The body broke (a plain request cut short, a deadline): the import fails and its target is removed.
    func breakBody(_ failure: UploadFailure) {
        guard result == nil else { return }
        pipe.fail(DiskImportError(.network, failure.reason))
    }

    /// Calls `callback` once the upload can be answered: an async one without a whole-image checksum once the
    /// import has read every byte, any other once the import has ended. Immediately when it already can.
    func whenAnswerable(async: Bool, _ callback: @escaping (Result<UploadImportResult?, UploadFailure>) -> Void) {
        if let result {
            callback(result.map { $0 })
        } else if async && checksum == nil && consumed {
            callback(.success(nil))
        } else {
            readyWaiters.append((async && checksum == nil, callback))
        }
    }

    // MARK: from the import thread (through the loop)

    fileprivate func bodyConsumed() {
        consumed = true
        let (ready, waiting) = readyWaiters.partitioned { $0.async }
        readyWaiters = waiting
        for waiter in ready { waiter.callback(.success(nil)) }
    }

    fileprivate func importEnded(_ outcome: Result<UploadImportResult, UploadFailure>) {
        result = outcome
        thread?.join()
        thread = nil
        let waiters = readyWaiters
        readyWaiters = []
        for waiter in waiters { waiter.callback(outcome.map { $0 }) }
        onEnded?(self)
    }
}

/// The import thread's work: the importer reads the pipe to the image's end, then the rest of the body is read
/// and dropped (bytes after the image), so the upload ends when its body does.
private final class ImportJob: WorkerThread.Job, @unchecked Sendable {
    let session: NIOLoopBound<UploadSession>
    let importer: any UploadImporting
    let kind: UploadKind
    let pipe: BodyPipe
    let checksum: Checksum?
    let progress: TransferProgress
    let loop: any EventLoop
    let logger: Logger

    init(session: NIOLoopBound<UploadSession>, importer: any UploadImporting, kind: UploadKind, pipe: BodyPipe,
         checksum: Checksum?, progress: TransferProgress, loop: any EventLoop, logger: Logger) {
        self.session = session
        self.importer = importer
        self.kind = kind
        self.pipe = pipe
        self.checksum = checksum
        self.progress = progress
        self.loop = loop
        self.logger = logger
    }

    func run() {
        let outcome: Result<UploadImportResult, UploadFailure>
        do {
            let result = kind.archive
                ? try importer.extractArchive(from: pipe, checksum: checksum, progress: progress)
                : try importer.importDisk(from: pipe, checksum: checksum, progress: progress)
            do {
                try pipe.drain()
            } catch {
                // The disk is complete and committed; only bytes after the image were lost.
                logger.warning("the upload's body broke after the image was complete: \(error)")
            }
            outcome = .success(result)
        } catch {
            outcome = .failure(UploadFailure(error))
        }
        pipe.close()
        let session = self.session
        loop.execute { session.value.importEnded(outcome) }
    }
}

extension Array {
    /// The elements that satisfy `belongs`, and the others, each in order.
    func partitioned(by belongs: (Element) -> Bool) -> ([Element], [Element]) {
        var yes: [Element] = [], no: [Element] = []
        for element in self { if belongs(element) { yes.append(element) } else { no.append(element) } }
        return (yes, no)
    }
}
