import CCurl
import DiskImportCore
import Synchronization

/// One request beyond its URL: method, extra headers, a byte range, and whether the client's credentials go with it.
struct HTTPRequest {
    enum Method { case get, head }

    var url: String
    var method: Method = .get
    /// Extra "Name: value" lines, after the client's own (`--header`).
    var headers: [String] = []
    /// `Range: bytes=first-[last]`.
    var range: (first: UInt64, last: UInt64?)?
    /// `If-Range`: a strong ETag or a Last-Modified date; the server sends the whole resource when it changed.
    var ifRange: String?
    /// Send the client's Basic credentials (a registry sends tokens in `headers` instead).
    var sendCredentials = true
    /// A bulk body: use the client's bulk HTTP version.
    var bulk = false

    init(url: String) { self.url = url }
}

/// What a transfer does with a response: the final head (after redirects), then the body.
/// Returning false aborts the transfer; the receiver keeps the reason.
protocol TransferReceiver: AnyObject {
    func transferDidReceive(head: HTTPResponseHead) -> Bool
    func transferDidReceive(body: UnsafeRawBufferPointer) -> Bool
    /// libcurl's progress callback saw no new body bytes since its last call: the network is quiet right now.
    func transferIsIdle()
}

extension TransferReceiver {
    func transferIsIdle() {}
}

/// How a transfer ended.
enum TransferOutcome {
    /// The body is complete (as far as libcurl can tell).
    case completed(HTTPResponseHead)
    /// libcurl, the server or a stall ended it.
    case failed(TransferFailure)
    /// The receiver returned false, or the transfer was cancelled.
    case aborted
}

/// A flag another thread sets to stop a transfer at its next progress callback.
final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    init() {}
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// The state libcurl's C callbacks reach through their `void *` (an unretained `Unmanaged` pointer: a capturing
/// closure cannot be a C function pointer).
final class TransferContext {
    unowned let receiver: TransferReceiver
    let cancel: CancelFlag?
    let stallTimeout: Double
    let firstByteTimeout: Double
    let started = Monotonic.now()
    var lastActivity = Monotonic.now()
    var lastBodyBytes: Int64 = 0
    /// A header line has arrived: from now on silence is a stall, not a server that never answered.
    var responded = false
    var stalled = false
    var unanswered = false
    var aborted = false
    var status = 0
    var headers: [(name: String, value: String)] = []
    var finalHead: HTTPResponseHead?

    init(receiver: TransferReceiver, cancel: CancelFlag?, stallTimeout: Double, firstByteTimeout: Double) {
        self.receiver = receiver
        self.cancel = cancel
        self.stallTimeout = stallTimeout
        self.firstByteTimeout = firstByteTimeout
    }

    /// One header line (libcurl passes each line of every response, redirects included).
    func header(_ raw: UnsafeRawBufferPointer) -> Bool {
        lastActivity = Monotonic.now()
        responded = true
        var bytes = raw[...]
        while let last = bytes.last, last == 0x0d || last == 0x0a { bytes.removeLast() }   // "\r\n" is one Character
        let line = Substring(String(decoding: UnsafeRawBufferPointer(rebasing: bytes), as: UTF8.self))
        if line.hasPrefix("HTTP/") {
            let fields = line.split(separator: " ", maxSplits: 2)
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            headers = []
        } else if line.isEmpty {
            // The end of one response's head. libcurl goes on after a 1xx, and after a redirect it follows.
            if (100..<200).contains(status) { return true }
            if [301, 302, 303, 307, 308].contains(status), headers.contains(where: { $0.name == "location" }) { return true }
            let head = HTTPResponseHead(status: status, headers: headers)
            finalHead = head
            if !receiver.transferDidReceive(head: head) {
                aborted = true
                return false
            }
        } else if let colon = line.firstIndex(of: ":") {
            headers.append((String(line[..<colon]).lowercased(), String(line[line.index(after: colon)...]).trimmingSpaces))
        }
        return true
    }

    func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if !receiver.transferDidReceive(body: bytes) {
            aborted = true
            return false
        }
        // Time spent waiting for the consumer inside the receiver is not a stalled network.
        lastActivity = Monotonic.now()
        return true
    }

    /// libcurl calls this about once a second when idle, and as data moves.
    func progress(downloaded: Int64) -> Bool {
        if cancel?.isSet == true {
            aborted = true
            return false
        }
        let now = Monotonic.now()
        if !responded {
            // Connecting (libcurl's own connect timeout applies), or waiting for the server to begin its answer.
            if now - started > firstByteTimeout {
                unanswered = true
                return false
            }
            return true
        }
        if downloaded != lastBodyBytes {
            lastBodyBytes = downloaded
            lastActivity = now
        } else if now - lastActivity > stallTimeout {
            stalled = true
            return false
        } else {
            receiver.transferIsIdle()
        }
        return true
    }
}

/// The C callbacks, installed once per handle; each finds its `TransferContext` through the user pointer.
enum CurlCallbacks {
    static let header: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, user in
        let n = size * count
        let context = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
        return context.header(UnsafeRawBufferPointer(start: data, count: n)) ? n : 0
    }

    static let write: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, user in
        let n = size * count
        let context = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
        return context.body(UnsafeRawBufferPointer(start: data, count: n)) ? n : 0
    }

    static let progress: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = { user, _, downloaded, _, _ in
        let context = Unmanaged<TransferContext>.fromOpaque(user!).takeUnretainedValue()
        return context.progress(downloaded: Int64(downloaded)) ? 0 : 1
    }
}
