import DiskImportCore

/// A whole small response: registry pings, manifests, tokens.
public struct HTTPResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: [UInt8]
}

public enum HTTPMethod: Sendable {
    case get, head
}

extension HTTPClient {
    /// Runs one small request and returns its final response whatever the status (a registry reads a 401's
    /// WWW-Authenticate challenge), with the body in memory up to `limit` bytes (more is an error: manifests and
    /// tokens are small, and a hostile server must not exhaust memory). Connection failures, stalls and 5xx are
    /// retried as `RetryBudget` says. Handles are reused, so a registry's requests share keep-alive connections.
    public func fetch(_ url: String, method: HTTPMethod = .get, headers: [String] = [], sendCredentials: Bool = true,
                      limit: Int = 4 << 20) throws -> HTTPResponse {
        var request = HTTPRequest(url: url)
        request.method = method == .head ? .head : .get
        request.headers = headers
        request.sendCredentials = sendCredentials
        let handle = try smallRequestHandles.take { try makeHandle() }
        defer { smallRequestHandles.give(handle) }
        var retry = RetryBudget(options: options)
        while true {
            let collector = BodyCollector(limit: limit, url: url, expectsBody: method == .get)
            let failure: TransferFailure
            switch perform(request, on: handle, receiver: collector) {
            case .completed(let head):
                guard [408, 429, 500, 502, 503, 504].contains(head.status) else {
                    return HTTPResponse(head: head, body: collector.body)
                }
                failure = .status(head.status, url: url)
            case .failed(let f):
                failure = f
            case .aborted:
                throw collector.failure?.error ?? DiskImportError(.network, "the request to \(DisplayURL.host(url)) was cancelled")
            }
            Monotonic.sleep(try retry.delay(after: failure))
        }
    }
}

/// Collects a small body in memory, refusing more than `limit` bytes.
final class BodyCollector: TransferReceiver {
    let limit: Int
    let url: String
    /// False for HEAD, whose Content-Length describes a body that is not sent.
    let expectsBody: Bool
    var body: [UInt8] = []
    var failure: TransferFailure?

    init(limit: Int, url: String, expectsBody: Bool) {
        self.limit = limit
        self.url = url
        self.expectsBody = expectsBody
    }

    func transferDidReceive(head: HTTPResponseHead) -> Bool {
        if expectsBody, let length = head.contentLength, length > UInt64(limit) {
            return refuse()
        }
        return true
    }

    func transferDidReceive(body chunk: UnsafeRawBufferPointer) -> Bool {
        guard body.count + chunk.count <= limit else { return refuse() }
        body.append(contentsOf: chunk)
        return true
    }

    private func refuse() -> Bool {
        failure = TransferFailure(DiskImportError(.limit, "the response from \(DisplayURL.redacted(url)) is larger than \(limit) bytes"), retryable: false)
        return false
    }
}
