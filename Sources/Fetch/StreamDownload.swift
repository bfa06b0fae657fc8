import DiskImportCore

/// The producer behind `HTTPStream`: runs on its own thread, GETs the resource, fills the queue, and when the
/// connection drops or stalls mid-body, reconnects and continues — byte-identical output or an error, never a
/// silent splice of two different files.
///
/// Resume, in order of preference:
/// 1. Ranged: `Range: bytes=N-` with `If-Range` (the strong ETag, else Last-Modified) when the first response said
///    `Accept-Ranges: bytes`. A 206 must start at N and report the same total length and ETag.
/// 2. Restart: a server without ranges, or one that answers 200 (If-Range saw a new validator, or it ignores
///    ranges), sends the whole body again. The N bytes already handed downstream cannot be taken back, so the
///    restarted body's first N bytes are read and dropped after proving they are the same bytes: by an unchanged
///    strong ETag (same representation, RFC 9110 8.8.3), or — when the server sends no strong ETag — by a SHA-256
///    of the prefix, kept running over everything delivered for exactly this case. Anything else is a clear
///    "changed on the server" error; the importer then deletes its incomplete target.
///
/// Retries (`RetryBudget`): `options.retries` failed attempts in a row within `options.retryMaxTime`, with jittered
/// doubling back-off, each announced on stderr; an attempt that delivers new bytes resets the count, so a long
/// download over a flaky link completes.
final class StreamDownload: WorkerThread.Job, TransferReceiver, @unchecked Sendable {
    private let client: HTTPClient
    private let baseRequest: HTTPRequest
    private let queue: ChunkQueue
    /// Set when the consumer goes away.
    private var cancel: CancelFlag { queue.cancelFlag }

    /// The first response: what every later one must match.
    private var original: HTTPResponseHead?
    /// Body bytes handed to the queue (published or in `filling`).
    private var delivered: UInt64 = 0
    /// Bytes of a restarted body still to drop before delivering resumes.
    private var toDiscard: UInt64 = 0
    /// SHA-256 of everything delivered, kept only when the server sent no strong ETag (see above).
    private var prefixDigest: Digest?
    /// While discarding: the digest of the dropped bytes, and what it must equal.
    private var discardDigest: Digest?
    private var expectedPrefix: [UInt8] = []
    /// A failure decided in a callback (bad status, changed resource); `retryable` says whether to go on.
    private var callbackFailure: TransferFailure?
    private var filling: UnsafeMutableRawBufferPointer?
    private var filled = 0
    private var resumedAt416 = false

    init(client: HTTPClient, request: HTTPRequest, queue: ChunkQueue) throws {
        self.client = client
        self.baseRequest = request
        self.queue = queue
    }

    func run() {
        let handle: CurlHandle
        do {
            handle = try client.makeHandle()
        } catch {
            queue.finish(error as? DiskImportError ?? DiskImportError(.network, "\(error)"))
            return
        }
        var retry = RetryBudget(options: client.options)
        while true {
            let before = delivered
            callbackFailure = nil
            resumedAt416 = false
            let outcome = client.perform(request(), on: handle, receiver: self, cancel: cancel)
            if queue.isCancelled { return }
            let failure: TransferFailure
            switch outcome {
            case .completed(let head):
                if let short = truncation(head) {
                    failure = short
                } else {
                    flush()
                    queue.finish(nil)
                    return
                }
            case .failed(let f):
                failure = f
            case .aborted:
                if resumedAt416 {
                    flush()
                    queue.finish(nil)
                    return
                }
                guard let reason = callbackFailure else { return }   // cancelled by the consumer
                failure = reason
            }
            if delivered > before { retry.madeProgress() }   // this failure starts a new run
            let delay: Double
            do {
                delay = try retry.delay(after: failure, resumingAt: delivered)
            } catch {
                queue.finish(error as? DiskImportError ?? failure.error)
                return
            }
            if !queue.pause(seconds: delay) { return }
        }
    }

    /// The next attempt's request: the whole resource, or the rest of it when the server serves ranges.
    private func request() -> HTTPRequest {
        var request = baseRequest
        if let original, delivered > 0, original.acceptsRanges {
            request.range = (delivered, nil)
            request.ifRange = original.strongETag ?? original.lastModified
        }
        return request
    }

    /// A body libcurl saw end cleanly but shorter than announced (a server closing a length-less body early).
    private func truncation(_ head: HTTPResponseHead) -> TransferFailure? {
        guard let total = original?.resourceLength, delivered + toDiscard < total else { return nil }
        return TransferFailure(DiskImportError(.network,
            "the body from \(DisplayURL.host(baseRequest.url)) ended at byte \(delivered) of \(total)"), retryable: true)
    }

    // MARK: TransferReceiver

    func transferDidReceive(head: HTTPResponseHead) -> Bool {
        guard (200..<300).contains(head.status) || head.status == 416 else {
            callbackFailure = .status(head.status, url: baseRequest.url)
            return false
        }
        guard let original else {
            if head.status != 200 && head.status != 204 {
                return reject("unexpected status \(head.status) for \(DisplayURL.redacted(baseRequest.url))", retryable: false)
            }
            self.original = head
            if head.strongETag == nil {
                prefixDigest = try? Digest(.sha256)
            }
            queue.markOpened(head)
            return true
        }
        return acceptResumed(head, original: original)
    }

    private func acceptResumed(_ head: HTTPResponseHead, original: HTTPResponseHead) -> Bool {
        let changed = "\(DisplayURL.redacted(baseRequest.url)) changed on the server during the download"
        if let tag = original.strongETag, let now = head.strongETag, tag != now {
            return reject("\(changed) (ETag \(tag) became \(now))", retryable: false)
        }
        switch head.status {
        case 206:
            guard let range = head.contentRange, range.first == delivered,
                  range.total == nil || original.resourceLength == nil || range.total == original.resourceLength else {
                return reject("\(DisplayURL.redacted(baseRequest.url)): the resumed response covers "
                    + "\(head["content-range"] ?? "no range") instead of bytes \(delivered)-", retryable: false)
            }
            return true
        case 416 where original.resourceLength == delivered:
            resumedAt416 = true   // the drop came after the last byte
            return false
        case 200:
            if let total = original.resourceLength, let now = head.contentLength, total != now {
                return reject("\(changed) (length \(total) became \(now))", retryable: false)
            }
            if original.strongETag != nil && head.strongETag == original.strongETag {
                client.logger.info("\(DisplayURL.host(baseRequest.url)) does not resume ranges: reading again from the start and dropping the first \(delivered) bytes (same ETag)")
                toDiscard = delivered   // the same representation: the prefix is the same bytes
                return true
            }
            guard let prefixDigest, let snapshot = try? prefixDigest.copy(), let check = try? Digest(.sha256) else {
                return reject("\(changed) (the server answered the resume with a different resource)", retryable: false)
            }
            expectedPrefix = snapshot.finalize()
            discardDigest = check
            toDiscard = delivered
            client.logger.info("\(DisplayURL.host(baseRequest.url)) does not resume ranges: reading again from the start and checking the first \(delivered) bytes")
            return true
        default:
            return reject("unexpected status \(head.status) when resuming \(DisplayURL.redacted(baseRequest.url))", retryable: false)
        }
    }

    private func reject(_ message: String, retryable: Bool) -> Bool {
        callbackFailure = TransferFailure(DiskImportError(.network, message), retryable: retryable)
        return false
    }

    func transferDidReceive(body: UnsafeRawBufferPointer) -> Bool {
        var bytes = body
        if toDiscard > 0 {
            let n = Int(min(UInt64(bytes.count), toDiscard))
            discardDigest?.update(UnsafeRawBufferPointer(rebasing: bytes[..<n]))
            toDiscard -= UInt64(n)
            bytes = UnsafeRawBufferPointer(rebasing: bytes[n...])
            if toDiscard == 0, let check = discardDigest {
                discardDigest = nil
                if check.finalize() != expectedPrefix {
                    return reject("\(DisplayURL.redacted(baseRequest.url)) changed on the server during the download "
                        + "(its first \(delivered) bytes differ after a restart)", retryable: false)
                }
            }
            if bytes.isEmpty { return true }
        }
        prefixDigest?.update(bytes)
        while !bytes.isEmpty {
            if filling == nil {
                guard let buffer = queue.acquire() else { return false }
                filling = buffer
                filled = 0
            }
            let buffer = filling!
            let n = min(bytes.count, buffer.count - filled)
            (buffer.baseAddress! + filled).copyMemory(from: bytes.baseAddress!, byteCount: n)
            filled += n
            delivered += UInt64(n)
            bytes = UnsafeRawBufferPointer(rebasing: bytes[n...])
            if filled == buffer.count { flush() }
        }
        if filled > 0 && queue.consumerIsWaiting { flush() }
        return true
    }

    /// Bytes wait in the buffer being filled until it is full or the consumer asks; a consumer that starts waiting
    /// after the last body callback of a burst would otherwise wait for the next burst (or the stall timeout).
    func transferIsIdle() {
        if filled > 0 && queue.consumerIsWaiting { flush() }
    }

    /// Publishes the buffer being filled, if it holds anything.
    private func flush() {
        guard let buffer = filling, filled > 0 else { return }
        queue.publish(buffer, count: filled)
        filling = nil
        filled = 0
    }
}
