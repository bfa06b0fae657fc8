import CCurl
import DiskImportCore

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
        default:
            return TransferFailure(DiskImportError(.network, "HTTP status \(status) for \(shown)"), retryable: false)
        }
    }

    /// The error for a failed curl_easy_perform; `detail` is libcurl's error buffer.
    static func curl(_ code: CURLcode, detail: String, url: String, stallTimeout: Double) -> TransferFailure {
        let host = DisplayURL.host(url)
        let shown = DisplayURL.redacted(url)
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return TransferFailure(DiskImportError(.tls,
                "TLS certificate verification failed for \(host): \(detail) (trust its CA with --ca-file or --cert-dir)"),
                retryable: false)
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND:
            return TransferFailure(DiskImportError(.tls, "TLS handshake with \(host) failed: \(detail)"), retryable: false)
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return TransferFailure(DiskImportError(.network, "cannot resolve \(host): \(detail)"), retryable: false)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return TransferFailure(DiskImportError.usage("cannot fetch \(shown): \(detail)"), retryable: false)
        case CURLE_TOO_MANY_REDIRECTS:
            return TransferFailure(DiskImportError(.network, "too many redirects from \(shown)"), retryable: false)
        case CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT:
            return TransferFailure(DiskImportError(.network, "cannot connect to \(host): \(detail)"), retryable: true)
        case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return TransferFailure(DiskImportError(.network, "connection to \(host) dropped: \(detail)"), retryable: true)
        default:
            return TransferFailure(DiskImportError(.network, "transfer from \(shown) failed: \(detail)"), retryable: false)
        }
    }

    static func stalled(url: String, seconds: Double) -> TransferFailure {
        TransferFailure(DiskImportError(.network,
            "transfer from \(DisplayURL.host(url)) stalled: no data for \(Int(seconds.rounded())) s"), retryable: true)
    }
}
