import DiskImportCore
import Logging
import SystemPackage

/// What `diskimport upload FILE URL` is asked to do beyond the HTTP options (trust, --insecure, stall timeout).
public struct UploadClientOptions: Sendable {
    /// The upload token (`--token-file`), sent as `Authorization: Bearer`; never printed.
    public var token: String?
    /// A client certificate, for an upload server reached directly (without CDI's upload proxy).
    public var clientCertificate: ClientCertificate?
    /// The whole image's digest, sent as `X-Image-Checksum` (and as the tus `checksum` metadata); the server
    /// verifies it before the disk is committed.
    public var checksum: Checksum?
    /// Attempts of a whole-file upload (virtctl's --retry), and reconnects in a row without progress for tus.
    public var retries = 5
    /// Speak tus when the server offers it (the default); off: always virtctl's plain POST.
    public var resumable = true

    public init() {}

    /// A token file's content (a mounted Secret, `--token-file`): one line, trailing newlines dropped.
    public static func token(fromFile path: String) throws -> String {
        var bytes = try SmallFile.read(path, limit: 64 << 10, what: "token file")
        while let last = bytes.last, last == 0x0a || last == 0x0d { bytes.removeLast() }
        guard let token = String(validating: bytes, as: UTF8.self), !token.isEmpty,
              !token.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
            throw DiskImportError.usage("token file \(path) does not hold a token (one line of text)")
        }
        return token
    }
}

/// How an upload went.
public struct UploadSummary: Sendable {
    public var url: String
    public var bytes: UInt64
    /// tus (resumable), or virtctl's plain POST.
    public var resumable: Bool
    /// Connections that broke and were resumed (tus) or retried from the start (plain).
    public var interruptions: Int
}

/// The client side of CDI's upload, as virtctl image-upload speaks it to the upload proxy
/// (pkg/virtctl/imageupload/upload.go): the async endpoint when a HEAD of it answers 200, else the sync one; a
/// POST of the whole file as application/octet-stream with its Content-Length and the Bearer token; the whole file
/// again on failure. When the server speaks tus 1.0 (OPTIONS), the upload is created and PATCHed instead, and a
/// broken connection resumes at the offset the server reports, without sending a byte twice.
public final class UploadClient {
    private let path: String
    private let baseURL: String
    private let options: UploadClientOptions
    private let http: HTTPClient
    private let progress: TransferProgress
    private let logger: Logger
    private let file: FileDescriptor
    private let length: UInt64

    public init(file path: String, url: String, options: UploadClientOptions, http: HTTPOptions, progress: TransferProgress,
                logger: Logger = Log.logger("upload")) throws {
        self.path = path
        baseURL = url.contains("://") ? url : "https://" + url
        self.options = options
        self.http = try HTTPClient(options: http, logger: logger)
        self.progress = progress
        self.logger = logger
        let local = try LocalFile(path: path)
        length = local.length
        do {
            file = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch let errno as Errno {
            throw DiskImportError.io("open", path, errno)
        }
        progress.setSourceTotal(length)
    }

    deinit { try? file.close() }

    public func run() throws -> UploadSummary {
        do {
            let url = endpoint()
            if options.resumable, offersTus(url) {
                return try TusUpload(client: self, url: url).run()
            }
            return try plainUpload(url)
        } catch let failure as UploadTransportFailure {
            throw failure.failure.error
        }
    }

    // MARK: virtctl's protocol

    /// virtctl's ConstructUploadProxyPathAsync: the async path when a HEAD of it answers 200, else the sync path
    /// (each appended unless the URL names it already).
    func endpoint() -> String {
        let async = Self.appending("/v1beta1/upload-async", to: baseURL)
        let probe = HTTPUploadRequest(method: .head, url: async, headers: authorization)
        if let response = try? send(probe), response.status == 200 { return async }
        logger.debug("async upload not available at \(DisplayURL.redacted(async)): using the sync endpoint")
        return Self.appending("/v1beta1/upload", to: baseURL)
    }

    /// `path` after the URL's path, unless the URL contains it already (virtctl checks with strings.Contains).
    static func appending(_ path: String, to url: String) -> String {
        if url.contains(path) { return url }
        let (base, query) = splitQuery(url)
        return (base.hasSuffix("/") ? String(base.dropLast()) : base) + path + query
    }

    private static func splitQuery(_ url: String) -> (String, String) {
        guard let mark = url.firstIndex(of: "?") else { return (url, "") }
        return (String(url[..<mark]), String(url[mark...]))
    }

    /// Whether OPTIONS says tus 1.0.0 with the creation extension.
    private func offersTus(_ url: String) -> Bool {
        guard let response = try? send(HTTPUploadRequest(method: .options, url: url, headers: authorization)),
              (200..<300).contains(response.status),
              let versions = response.header("Tus-Version"), versions.split(separator: ",").contains(where: { String($0).trimmingSpaces == "1.0.0" }),
              let extensions = response.header("Tus-Extension"), extensions.split(separator: ",").contains(where: { String($0).trimmingSpaces == "creation" })
        else { return false }
        return true
    }

    /// The whole file in one POST, tried up to `retries` times (virtctl's loop, with its short random sleeps);
    /// a 4xx answer is final at once, as sending the same bytes again cannot change it.
    private func plainUpload(_ url: String) throws -> UploadSummary {
        var headers = authorization + ["Content-Type: application/octet-stream"]
        if let checksum = options.checksum { headers.append("X-Image-Checksum: \(checksum)") }
        let attempts = max(1, options.retries)
        var interruptions = 0
        var lastError = DiskImportError(.network, "no attempt made")
        for attempt in 1...attempts {
            let base = progress.sourceBytes
            let request = HTTPUploadRequest(method: .post, url: url, headers: headers, body: (file, 0, length))
            do {
                let response = try send(request) { [progress] sent in progress.addSourceBytes(sent - (progress.sourceBytes - base)) }
                if response.status == 200 {
                    return UploadSummary(url: url, bytes: length, resumable: false, interruptions: interruptions)
                }
                lastError = Self.refusal(response, url: url)
                if !(500..<600).contains(response.status) { throw lastError }
            } catch let failure as UploadTransportFailure {
                lastError = failure.failure.error
                if !failure.failure.retryable { throw lastError }
            }
            interruptions += 1
            rewindProgress(to: 0)
            if attempt < attempts {
                logger.warning("upload attempt \(attempt) of \(attempts) failed: \(lastError.message); starting again")
                Monotonic.sleep(Double(attempt * Int.random(in: 0..<50)) / 1000)
            }
        }
        throw DiskImportError(lastError.kind, "error uploading image after \(attempts) retries: \(lastError.message)")
    }

    // MARK: shared with TusUpload

    var authorization: [String] { options.token.map { ["Authorization: Bearer \($0)"] } ?? [] }
    var checksum: Checksum? { options.checksum }
    var retries: Int { options.retries }
    var fileLength: UInt64 { length }
    var fileName: String { path.split(separator: "/").last.map(String.init) ?? path }
    var fileDescriptor: FileDescriptor { file }
    var transferProgress: TransferProgress { progress }
    var log: Logger { logger }

    func send(_ request: HTTPUploadRequest, progress: ((UInt64) -> Void)? = nil) throws -> HTTPUploadResponse {
        let handle = try http.makeHandle()
        return try http.upload(request, on: handle, clientCertificate: options.clientCertificate, progress: progress)
    }

    /// The wait before reconnect `attempt` (1-based): the HTTP layer's jittered exponential back-off (RetryBudget).
    func backoff(attempt: Int) -> Double {
        var random = SystemRandomNumberGenerator()
        return RetryBudget.backoff(failures: attempt, options: http.options, using: &random)
    }

    /// Progress shows `offset` bytes sent (a retry or resume starts over from there).
    func rewindProgress(to offset: UInt64) {
        let now = progress.sourceBytes
        if now > offset {
            progress.rewindSourceBytes(by: now - offset)
        } else {
            progress.addSourceBytes(offset - now)
        }
    }

    /// The error for a non-success answer: the status and the server's own words (CDI's "Saving stream failed: …").
    static func refusal(_ response: HTTPUploadResponse, url: String) -> DiskImportError {
        let text = response.body.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).first.map(String.init) ?? ""
        let kind: DiskImportError.Kind = response.status == 401 || response.status == 403 ? .auth
            : response.status == 400 && text.contains("larger than the reported available storage") ? .space : .network
        return DiskImportError(kind, "unexpected return value \(response.status) from \(DisplayURL.redacted(url))"
            + (text.isEmpty ? "" : ", \(text.prefix(400))"))
    }
}
