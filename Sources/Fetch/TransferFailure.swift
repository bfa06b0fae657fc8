import CCurl
import DiskImportCore
import SystemPackage

/// Turns libcurl results and HTTP statuses into one-line `DiskImportError`s, and says which are worth a retry.
///
/// Messages name the URL without credentials or query (`DisplayURL`), never a header value.
struct TransferFailure: Error {
    var error: DiskImportError
    /// A reconnect may succeed: a dropped connection, a stall, a 5xx.
    var retryable: Bool

    init(_ error: DiskImportError, retryable: Bool) {
        self.error = error
        self.retryable = retryable
    }

    /// The error for a non-2xx final status.
    static func status(_ status: Int, url: String) -> TransferFailure {
        let shown = DisplayURL.redacted(url)
        switch status {
        case 401, 403:
            return TransferFailure(DiskImportError(.auth, "authentication failed (\(status)) for \(shown)"), retryable: false)
        case 407:
            return TransferFailure(DiskImportError(.auth, "proxy authentication failed (407) for \(shown)"), retryable: false)
        case 404, 410:
            return TransferFailure(DiskImportError(.network, "not found (\(status)): \(shown)"), retryable: false)
        case 408, 429, 500, 502, 503, 504:
            return TransferFailure(DiskImportError(.network, "server error (\(status)) for \(shown)"), retryable: true)
        case 400 where url.lowercased().hasPrefix("http://"):
            // What a TLS port answers a plain request with (Go: "Client sent an HTTP request to an HTTPS server").
            return TransferFailure(DiskImportError(.network, "HTTP status 400 for \(shown) (if that port serves TLS, use https://)"),
                                   retryable: false)
        default:
            return TransferFailure(DiskImportError(.network, "HTTP status \(status) for \(shown)"), retryable: false)
        }
    }

    /// The error for a failed curl_easy_perform; `detail` is libcurl's error buffer, `systemError` the errno of a
    /// failed connect, `proxy` the proxy the request went through (how the user named it), if any.
    static func curl(_ code: CURLcode, detail: String, systemError: Errno? = nil, url: String, proxy: String? = nil,
                     connectTimeout: Double = 10) -> TransferFailure {
        let host = DisplayURL.host(url)
        let shown = DisplayURL.redacted(url)
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return TransferFailure(DiskImportError(.tls,
                "TLS certificate verification failed for \(host): \(detail) (trust its CA with --ca-file or --cert-dir)"),
                retryable: false)
        case CURLE_SSL_CONNECT_ERROR where Self.isPlainHTTPAnswer(detail):
            return TransferFailure(DiskImportError(.tls, "TLS handshake with \(host) failed: \(plainHTTPAnswer) "
                + "(\(detail)); use http:// (for a docker:// registry, --insecure)"), retryable: false)
        case CURLE_SSL_CONNECT_ERROR where Self.isDroppedHandshake(detail):
            // The peer closed or reset the connection mid-handshake: the network's doing, not a TLS mismatch, so
            // worth a reconnect like any other drop (a mismatch fails the same way every time and exhausts the budget).
            return TransferFailure(DiskImportError(.network, "connection to \(host) dropped during the TLS handshake: \(detail)"),
                                   retryable: true)
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND:
            return TransferFailure(DiskImportError(.tls, "TLS handshake with \(host) failed: \(detail)"), retryable: false)
        case CURLE_COULDNT_RESOLVE_PROXY:
            return TransferFailure(DiskImportError(.network, "cannot resolve the proxy (\(proxy ?? "from the environment")): \(detail)"),
                                   retryable: false)
        case CURLE_COULDNT_RESOLVE_HOST:
            return TransferFailure(DiskImportError(.network, "cannot resolve \(host): \(detail)"), retryable: false)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return TransferFailure(DiskImportError.usage("cannot fetch \(shown): \(detail)"), retryable: false)
        case CURLE_TOO_MANY_REDIRECTS:
            return TransferFailure(DiskImportError(.network, "too many redirects from \(shown)"), retryable: false)
        case CURLE_COULDNT_CONNECT:
            // libcurl's text ("Failed to connect to H port P after 0 ms: Couldn't connect to server") reads like a
            // retry delay; the errno says what happened.
            let reason = systemError.map { $0.description } ?? detail
            if let peer = Self.connectPeer(detail), peer.shown != Self.endpoint(of: url) {
                return TransferFailure(DiskImportError(.network, "cannot connect to the proxy \(peer.shown) (for \(host)): \(reason)"),
                                       retryable: true)
            }
            return TransferFailure(DiskImportError(.network, "cannot connect to \(host): \(reason)"), retryable: true)
        case CURLE_OPERATION_TIMEDOUT:
            // Only the connect phase has a libcurl timeout; later silence is the stall and first-byte timers' (TransferContext).
            return TransferFailure(DiskImportError(.network, "cannot connect to \(host): no connection within "
                + "\(RetryBudget.seconds(connectTimeout)) s (--connect-timeout)"), retryable: true)
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return TransferFailure(DiskImportError(.network, "connection to \(host) dropped: \(detail)"), retryable: true)
        default:
            return TransferFailure(DiskImportError(.network, "transfer from \(shown) failed: \(detail)"), retryable: false)
        }
    }

    /// The peer of libcurl's "Failed to connect to HOST port PORT after N ms: …" (the proxy's, when one was used):
    /// its name, and "HOST:PORT" to show.
    static func connectPeer(_ detail: String) -> (name: String, shown: String)? {
        guard let start = detail.range(of: "Failed to connect to "), let port = detail.range(of: " port ", range: start.upperBound..<detail.endIndex)
        else { return nil }
        let digits = detail[port.upperBound...].prefix(while: \.isNumber)
        guard !digits.isEmpty else { return nil }
        let name = String(detail[start.upperBound..<port.lowerBound])
        return (name, (name.contains(":") ? "[\(name)]" : name) + ":" + digits)
    }

    /// "HOST:PORT" that a request to `url` connects to without a proxy (the scheme's port when it names none).
    static func endpoint(of url: String) -> String {
        let host = DisplayURL.host(url)
        let bracket = host.lastIndex(of: "]") ?? host.startIndex
        if host[bracket...].contains(":") { return host }
        return host + (url.lowercased().hasPrefix("https:") ? ":443" : ":80")
    }

    static let plainHTTPAnswer = "the server answered in plain HTTP, not TLS"

    /// OpenSSL's words for a TLS client that got a plain-HTTP answer ("HTTP/1.1 400 …" read as a TLS record).
    static func isPlainHTTPAnswer(_ detail: String) -> Bool {
        detail.contains("wrong version number") || detail.contains("packet length too long")
    }

    /// OpenSSL's words (through libcurl's "OpenSSL SSL_connect: …") for a handshake whose connection the peer
    /// closed or reset: SSL_ERROR_SYSCALL with errno 0 is an EOF; OpenSSL 3 also says "unexpected eof".
    static func isDroppedHandshake(_ detail: String) -> Bool {
        ["SSL_ERROR_SYSCALL", "unexpected eof", "Connection reset by peer", "Broken pipe", "ECONNRESET"]
            .contains { detail.contains($0) }
    }

    static func stalled(url: String, seconds: Double) -> TransferFailure {
        TransferFailure(DiskImportError(.network,
            "transfer from \(DisplayURL.host(url)) stalled: no data for \(Int(seconds.rounded())) s"), retryable: true)
    }

    /// The server accepted the request but did not begin an answer within `seconds`.
    static func unanswered(url: String, seconds: Double) -> TransferFailure {
        TransferFailure(DiskImportError(.network, "no response from \(DisplayURL.host(url)) within "
            + "\(RetryBudget.seconds(seconds)) s of the request (--first-byte-timeout)"), retryable: true)
    }
}
