import CCurl
import DiskImportCore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// HTTP(S) on libcurl with one set of `HTTPOptions`: streams of whole bodies (`HTTPStream`), ranged random access
/// (`HTTPRangeSource`), and small requests (`fetch`, for registry manifests and tokens).
///
/// Redirects are followed; libcurl sends the Basic credentials and any Authorization header only to the host,
/// port and scheme of the request (CURLOPT_UNRESTRICTED_AUTH stays off), so a redirect to a storage host never
/// carries them.
public final class HTTPClient: Sendable {
    public let options: HTTPOptions
    /// The trust bundle (system CAs + extra CA files), or nil to use libcurl's defaults.
    private let caBundle: [UInt8]?
    let logger: Logger
    /// Keep-alive handles for `fetch`.
    let smallRequestHandles = HandlePool(limit: 4)

    /// Bytes libcurl hands the write callback at most per call (CURLOPT_BUFFERSIZE); larger means fewer callbacks.
    static let receiveBufferSize = 256 << 10

    public init(options: HTTPOptions, logger: Logger = Log.logger("http")) throws {
        self.options = options
        self.logger = logger
        if options.insecure {
            caBundle = nil
            Console.writeError("diskimport: warning: TLS certificate verification is disabled (--insecure): "
                + "anyone on the network path can read and change what is transferred\n")
        } else if options.caFiles.isEmpty {
            caBundle = nil
        } else {
            let probe = try CurlHandle()
            caBundle = try CertificateBundle.pem(systemBundle: probe.defaultCABundle, files: options.caFiles)
        }
    }

    /// A new easy handle with everything that does not change between requests.
    func makeHandle() throws -> CurlHandle {
        let handle = try CurlHandle()
        try handle.set(CURLOPT_NOSIGNAL, true)   // threads: no SIGALRM-based DNS timeouts
        try handle.set(CURLOPT_FOLLOWLOCATION, true)
        try handle.set(CURLOPT_MAXREDIRS, 10)
        try handle.set(CURLOPT_PROTOCOLS_STR, string: "http,https")
        try handle.set(CURLOPT_REDIR_PROTOCOLS_STR, string: "http,https")
        try handle.set(CURLOPT_CONNECTTIMEOUT_MS, Int(options.connectTimeout * 1000))
        try handle.set(CURLOPT_BUFFERSIZE, Self.receiveBufferSize)
        try handle.set(CURLOPT_TCP_KEEPALIVE, true)
        try handle.set(CURLOPT_USERAGENT, string: "diskimport")
        try handle.set(CURLOPT_SUPPRESS_CONNECT_HEADERS, true)
        try handle.set(CURLOPT_NOPROGRESS, false)
        try check(ccurl_setopt_header_function(handle.raw, CurlCallbacks.header))
        try check(ccurl_setopt_write_function(handle.raw, CurlCallbacks.write))
        try check(ccurl_setopt_xferinfo_function(handle.raw, CurlCallbacks.progress))
        if options.insecure {
            try handle.set(CURLOPT_SSL_VERIFYPEER, false)
            try handle.set(CURLOPT_SSL_VERIFYHOST, 0)
        } else if let caBundle {
            try handle.setCABundle(caBundle)
        }
        // Without CURLOPT_PROXY libcurl reads http_proxy, https_proxy (or HTTPS_PROXY), all_proxy and no_proxy.
        if let proxy = options.proxy { try handle.set(CURLOPT_PROXY, string: proxy) }
        return handle
    }

    /// Runs `request` on `handle` on this thread, delivering the response to `receiver`.
    func perform(_ request: HTTPRequest, on handle: CurlHandle, receiver: TransferReceiver, cancel: CancelFlag? = nil) -> TransferOutcome {
        do {
            try configure(handle, for: request)
        } catch let error as DiskImportError {
            return .failed(TransferFailure(error, retryable: false))
        } catch {
            return .failed(TransferFailure(DiskImportError(.network, "\(error)"), retryable: false))
        }
        let context = TransferContext(receiver: receiver, cancel: cancel, stallTimeout: options.stallTimeout,
                                      firstByteTimeout: options.firstByteTimeout)
        let code: CURLcode = withExtendedLifetime(context) {
            let user = Unmanaged.passUnretained(context).toOpaque()
            _ = ccurl_setopt_pointer(handle.raw, CURLOPT_HEADERDATA, user)
            _ = ccurl_setopt_pointer(handle.raw, CURLOPT_WRITEDATA, user)
            _ = ccurl_setopt_pointer(handle.raw, CURLOPT_XFERINFODATA, user)
            return handle.perform()
        }
        if context.aborted { return .aborted }
        if context.stalled { return .failed(.stalled(url: request.url, seconds: options.stallTimeout)) }
        if context.unanswered { return .failed(.unanswered(url: request.url, seconds: options.firstByteTimeout)) }
        if code != CURLE_OK {
            return .failed(.curl(code, detail: handle.detail(code), systemError: handle.systemError, url: request.url,
                                 proxy: proxyDescription(for: request.url), connectTimeout: options.connectTimeout))
        }
        guard let head = context.finalHead else {
            return .failed(TransferFailure(DiskImportError(.network, "no HTTP response from \(DisplayURL.host(request.url))"), retryable: true))
        }
        return .completed(head)
    }

    private func configure(_ handle: CurlHandle, for request: HTTPRequest) throws {
        try handle.set(CURLOPT_URL, string: request.url)
        switch request.method {
        case .head:
            try handle.set(CURLOPT_NOBODY, true)
        case .get:
            try handle.set(CURLOPT_HTTPGET, true)
        case .post:
            let bytes = request.body?.bytes ?? []
            try handle.set(CURLOPT_POSTFIELDSIZE, bytes.count)
            try bytes.withUnsafeBytes { try handle.set(CURLOPT_COPYPOSTFIELDS, pointer: UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
        }
        // An object key is a name, not a path to normalise ("a/../b" is a key of its own).
        try handle.set(CURLOPT_PATH_AS_IS, request.signer != nil)
        let version = request.bulk && options.bulkVersion == .http1_1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS
        try handle.set(CURLOPT_HTTP_VERSION, version)
        var lines = options.headers.map(\.line) + request.headers
        if let range = request.range {
            lines.append("Range: bytes=\(range.first)-\(range.last.map(String.init) ?? "")")
            if let ifRange = request.ifRange { lines.append("If-Range: \(ifRange)") }
        }
        if let ifMatch = request.ifMatch { lines.append("If-Match: \(ifMatch)") }
        if let body = request.body { lines.append("Content-Type: \(body.contentType)") }
        if let signer = request.signer { lines += try signer.headerLines() }
        try handle.setHeaders(lines)
        try handle.setAWSSigV4(nil)
        if let signer = request.signer {
            try signer.configure(handle)
        } else if request.sendCredentials, let credentials = options.credentials {
            try handle.set(CURLOPT_HTTPAUTH, ccurl_auth_basic())
            try handle.set(CURLOPT_USERNAME, string: credentials.user)
            try handle.set(CURLOPT_PASSWORD, string: credentials.password)
        } else {
            try handle.set(CURLOPT_USERNAME, string: nil)
            try handle.set(CURLOPT_PASSWORD, string: nil)
        }
    }

    /// The proxy a request to `url` goes through, for messages: `--proxy`, else the environment's variable (by
    /// name: its value may hold credentials); nil without one.
    private func proxyDescription(for url: String) -> String? {
        if let proxy = options.proxy { return "--proxy \(DisplayURL.host(proxy))" }
        let names = url.lowercased().hasPrefix("https:") ? ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
            : ["http_proxy", "all_proxy", "ALL_PROXY"]
        return names.first { getenv($0).map { $0.pointee != 0 } ?? false }
    }

    private func check(_ code: CURLcode) throws {
        guard code == CURLE_OK else { throw DiskImportError(.network, "libcurl: \(String(cString: curl_easy_strerror(code)))") }
    }
}
