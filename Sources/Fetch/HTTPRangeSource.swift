import DiskImportCore

/// An HTTP(S) resource read at any offset with ranged GETs (`Range: bytes=A-B`), for image formats that need
/// random access (qcow2: only the metadata and the allocated clusters are fetched).
///
/// Reads may come from several threads at once; each takes an easy handle from a small pool, so concurrent reads
/// run on concurrent keep-alive connections. Every response must be a 206 for exactly the asked range with the
/// ETag the resource had when it was opened, and `If-Range` makes a server whose file changed answer 200 instead:
/// a changed resource is an error, never a mix of two versions.
public final class HTTPRangeSource: RandomAccessSource, @unchecked Sendable {
    public let length: UInt64
    public let url: String
    public var displayName: String { DisplayURL.redacted(url) }
    /// The strong ETag when the server sent one, else Last-Modified: the If-Range validator.
    let validator: String?
    let etag: String?
    private let client: HTTPClient
    private let pool: HandlePool
    /// What every ranged GET starts from: the URL alone, or an object store's signed request pinned to a version.
    private let template: HTTPRequest

    /// Probes `url` with a one-byte ranged GET. Returns nil when the server does not serve ranges (it answered 200),
    /// so the caller streams instead; throws for errors (401, 404, TLS…).
    public static func open(client: HTTPClient, url: String, connections: Int = 4) throws -> HTTPRangeSource? {
        let handle = try client.makeHandle()
        let probe = RangeRead(url: url, offset: 0, destination: nil, validator: nil, etag: nil)
        var request = HTTPRequest(url: url)
        request.range = (0, 0)
        let head: HTTPResponseHead
        do {
            head = try RangeRead.run(client: client, handle: handle, request: request, read: probe)
        } catch let failure as TransferFailure {
            throw failure.error
        }
        guard head.status == 206, let total = head.contentRange?.total else { return nil }
        let source = HTTPRangeSource(client: client, url: url, length: total, head: head, connections: connections)
        source.pool.give(handle)
        return source
    }

    private init(client: HTTPClient, url: String, length: UInt64, head: HTTPResponseHead, connections: Int) {
        self.client = client
        self.url = url
        self.length = length
        etag = head.strongETag
        validator = head.strongETag ?? head.lastModified
        pool = HandlePool(limit: max(1, connections))
        template = HTTPRequest(url: url)
    }

    /// An object whose length and version are known already (an object store's HEAD): no probe. `template` is its
    /// signed GET, whose `If-Match` or generation header makes a changed object a 412, so no `If-Range` is sent.
    init(client: HTTPClient, template: HTTPRequest, length: UInt64, etag: String?, connections: Int = 4) {
        self.client = client
        url = template.url
        self.length = length
        self.etag = etag
        validator = nil
        pool = HandlePool(limit: max(1, connections))
        self.template = template
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset < length, buffer.count > 0 else { return 0 }
        let count = Int(min(UInt64(buffer.count), length - offset))
        let handle = try pool.take { try client.makeHandle() }
        defer { pool.give(handle) }
        var done = 0
        var retry = RetryBudget(options: client.options)
        while done < count {
            let destination = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<count])
            let read = RangeRead(url: url, offset: offset + UInt64(done), destination: destination, validator: validator, etag: etag)
            var request = template
            request.range = (offset + UInt64(done), offset + UInt64(count) - 1)
            request.ifRange = validator
            var failure: TransferFailure?
            do {
                _ = try RangeRead.run(client: client, handle: handle, request: request, read: read)
            } catch let caught as TransferFailure {
                failure = caught
            }
            done += read.filled
            if failure == nil && read.filled < destination.count {
                failure = TransferFailure(DiskImportError(.network, "\(displayName): the range at \(offset + UInt64(done)) ended early"), retryable: true)
            }
            guard let failure else { continue }
            if read.filled > 0 { retry.madeProgress() }
            Monotonic.sleep(try retry.delay(after: failure, resumingAt: offset + UInt64(done)))
        }
        return count
    }
}

/// One ranged GET into a caller's buffer, without an intermediate copy.
final class RangeRead: TransferReceiver {
    let url: String
    let offset: UInt64
    let destination: UnsafeMutableRawBufferPointer?
    let validator: String?
    let etag: String?
    var filled = 0
    var failure: TransferFailure?
    var head: HTTPResponseHead?

    init(url: String, offset: UInt64, destination: UnsafeMutableRawBufferPointer?, validator: String?, etag: String?) {
        self.url = url
        self.offset = offset
        self.destination = destination
        self.validator = validator
        self.etag = etag
    }

    /// Runs the request; returns the head, or throws a `TransferFailure`.
    static func run(client: HTTPClient, handle: CurlHandle, request: HTTPRequest, read: RangeRead) throws -> HTTPResponseHead {
        switch client.perform(request, on: handle, receiver: read) {
        case .completed(let head):
            return head
        case .failed(let failure):
            throw failure
        case .aborted:
            if let failure = read.failure { throw failure }
            if let head = read.head { return head }   // the probe stops a 200 at its head on purpose
            throw TransferFailure(DiskImportError(.network, "the transfer from \(DisplayURL.host(request.url)) was cancelled"), retryable: false)
        }
    }

    func transferDidReceive(head: HTTPResponseHead) -> Bool {
        self.head = head
        let shown = DisplayURL.redacted(url)
        if head.status == 412 {
            // If-Match or x-goog-if-generation-match: the object is no longer the version found.
            failure = TransferFailure(DiskImportError(.network, "\(shown) changed on the server during the import (412 Precondition Failed)"), retryable: false)
            return false
        }
        guard (200..<300).contains(head.status) else {
            failure = .status(head.status, url: url)
            return false
        }
        guard let destination else {
            return head.status == 206   // the probe: a 200 means no ranges, and its body is not wanted
        }
        guard head.status == 206 else {
            failure = TransferFailure(DiskImportError(.network,
                "\(shown) changed on the server during the import (a ranged read got the whole resource)"), retryable: false)
            return false
        }
        if let etag, let now = head.strongETag, now != etag {
            failure = TransferFailure(DiskImportError(.network, "\(shown) changed on the server during the import (ETag \(etag) became \(now))"), retryable: false)
            return false
        }
        guard let range = head.contentRange, range.first == offset, range.last - range.first < UInt64(destination.count) else {
            failure = TransferFailure(DiskImportError(.network,
                "\(shown): asked for bytes from \(offset), got \(head["content-range"] ?? "no Content-Range")"), retryable: false)
            return false
        }
        return true
    }

    func transferDidReceive(body: UnsafeRawBufferPointer) -> Bool {
        guard let destination else { return true }   // the probe's one byte
        guard body.count <= destination.count - filled else {
            failure = TransferFailure(DiskImportError(.network, "\(DisplayURL.redacted(url)): the server sent more than the range asked for"), retryable: false)
            return false
        }
        (destination.baseAddress! + filled).copyMemory(from: body.baseAddress!, byteCount: body.count)
        filled += body.count
        return true
    }
}

/// Easy handles (and their keep-alive connections) shared by concurrent readers, at most `limit` of them.
final class HandlePool: @unchecked Sendable {
    private let monitor = Monitor()
    private var idle: [CurlHandle] = []
    private var created = 0
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    /// An idle handle, a new one while under the limit, or waits for one to come back.
    func take(make: () throws -> CurlHandle) throws -> CurlHandle {
        // The idle handle is taken under the same lock that saw it: another reader may be waiting for it too (taking
        // it after a second lock let two readers find one handle, and the second crashed on an empty list).
        let reused: CurlHandle? = monitor.locked {
            while idle.isEmpty && created >= limit { monitor.wait() }
            if let handle = idle.popLast() { return handle }
            created += 1
            return nil
        }
        if let reused { return reused }
        do {
            return try make()
        } catch {
            monitor.locked {
                created -= 1
                monitor.broadcast()
            }
            throw error
        }
    }

    func give(_ handle: CurlHandle) {
        monitor.locked {
            idle.append(handle)
            monitor.broadcast()
        }
    }
}
