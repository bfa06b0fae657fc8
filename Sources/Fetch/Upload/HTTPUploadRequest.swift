import CCurl
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One upload-side HTTP request on libcurl: HEAD, OPTIONS, or a POST or PATCH whose body is a range of a local
/// file, sent with a fixed Content-Length (CURLOPT_POSTFIELDSIZE_LARGE, CURLOPT_INFILESIZE_LARGE) and read with
/// pread(2) as libcurl asks for it.
struct HTTPUploadRequest {
    enum Method: String { case head = "HEAD", options = "OPTIONS", post = "POST", patch = "PATCH" }

    var method: Method
    var url: String
    /// "Name: value" lines; an Authorization line among them is never shown anywhere.
    var headers: [String] = []
    /// The body: `length` bytes of `file` from `offset`.
    var body: (file: FileDescriptor, offset: UInt64, length: UInt64)?
}

/// A response to an upload request: its status, headers (names lowercased) and a short body.
public struct HTTPUploadResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    /// The first 64 KiB of the body, as text (the server's error message).
    public var body: String

    public func header(_ name: String) -> String? {
        let key = name.lowercased()
        return headers.last { $0.name == key }?.value
    }
}

/// The C callbacks' state (reached through an unretained `Unmanaged` pointer).
final class UploadTransferContext {
    let file: FileDescriptor?
    var offset: UInt64
    let end: UInt64
    /// Bytes of the body handed to libcurl: at the end, what the server may have received.
    var sent: UInt64 = 0
    let progress: ((UInt64) -> Void)?
    var readError: Errno?
    var status = 0
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []

    init(body: (file: FileDescriptor, offset: UInt64, length: UInt64)?, progress: ((UInt64) -> Void)?) {
        file = body?.file
        offset = body?.offset ?? 0
        end = (body?.offset ?? 0) + (body?.length ?? 0)
        self.progress = progress
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let file else { return 0 }
        let want = Int(min(UInt64(buffer.count), end - offset))
        guard want > 0 else { return 0 }
        do {
            let n = try file.read(fromAbsoluteOffset: Int64(offset), into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<want]),
                                  retryOnInterrupt: true)
            if n == 0 {
                readError = .ioError
                return nil
            }
            offset += UInt64(n)
            sent += UInt64(n)
            progress?(sent)
            return n
        } catch let error as Errno {
            readError = error
            return nil
        } catch {
            readError = .ioError
            return nil
        }
    }

    func header(_ raw: UnsafeRawBufferPointer) {
        var bytes = raw[...]
        while let last = bytes.last, last == 0x0d || last == 0x0a { bytes.removeLast() }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            let fields = line.split(separator: " ", maxSplits: 2)
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            headers = []
        } else if let colon = line.firstIndex(of: ":") {
            headers.append((String(line[..<colon]).lowercased(), String(line[line.index(after: colon)...]).trimmingSpaces))
        }
    }

    func receive(_ bytes: UnsafeRawBufferPointer) {
        let room = max(0, (64 << 10) - body.count)
        body += bytes.prefix(room)
    }
}

enum UploadCallbacks {
    static let read: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, user in
        let context = Unmanaged<UploadTransferContext>.fromOpaque(user!).takeUnretainedValue()
        return context.read(into: UnsafeMutableRawBufferPointer(start: data, count: size * count)) ?? Int(CURL_READFUNC_ABORT)
    }

    static let header: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, user in
        let context = Unmanaged<UploadTransferContext>.fromOpaque(user!).takeUnretainedValue()
        context.header(UnsafeRawBufferPointer(start: data, count: size * count))
        return size * count
    }

    static let write: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { data, size, count, user in
        let context = Unmanaged<UploadTransferContext>.fromOpaque(user!).takeUnretainedValue()
        context.receive(UnsafeRawBufferPointer(start: data, count: size * count))
        return size * count
    }
}

/// The failure of an upload request before any response: what was sent, and whether trying again may help.
struct UploadTransportFailure: Error {
    var failure: TransferFailure
    /// Body bytes handed to the connection before it failed.
    var sent: UInt64
}

extension HTTPClient {
    /// Sends `request` on `handle` (this thread); `progress` gets the body bytes sent so far. Throws
    /// `UploadTransportFailure` when no response came.
    func upload(_ request: HTTPUploadRequest, on handle: CurlHandle, clientCertificate: ClientCertificate?,
                progress: ((UInt64) -> Void)? = nil) throws -> HTTPUploadResponse {
        let context = UploadTransferContext(body: request.body, progress: progress)
        func fail(_ error: DiskImportError) -> UploadTransportFailure {
            UploadTransportFailure(failure: TransferFailure(error, retryable: false), sent: 0)
        }
        do {
            try handle.set(CURLOPT_URL, string: request.url)
            // An upload is never re-sent to another place: a redirect is the server's answer, not a hop.
            try handle.set(CURLOPT_FOLLOWLOCATION, false)
            try handle.set(CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1)
            try handle.set(CURLOPT_NOBODY, request.method == .head)
            try handle.set(CURLOPT_CUSTOMREQUEST, string: request.method == .head ? nil : request.method.rawValue)
            let length = Int(request.body?.length ?? 0)
            switch request.method {
            case .post:
                try handle.set(CURLOPT_POST, true)
                try check(ccurl_setopt_offset(handle.raw, CURLOPT_POSTFIELDSIZE_LARGE, length))
            case .patch:
                try handle.set(CURLOPT_UPLOAD, true)
                try check(ccurl_setopt_offset(handle.raw, CURLOPT_INFILESIZE_LARGE, length))
            case .head, .options:
                try handle.set(CURLOPT_UPLOAD, false)
            }
            // Like virtctl: no Expect: 100-continue round trip before the body.
            try handle.setHeaders(options.headers.map(\.line) + request.headers + ["Expect:"])
            if let clientCertificate {
                try handle.set(CURLOPT_SSLCERT, string: clientCertificate.certificateFile)
                try handle.set(CURLOPT_SSLKEY, string: clientCertificate.keyFile)
            }
            // A connection that moves nothing for the stall timeout is dropped (and resumed by the caller).
            try handle.set(CURLOPT_LOW_SPEED_LIMIT, 1)
            try handle.set(CURLOPT_LOW_SPEED_TIME, max(1, Int(options.stallTimeout)))
            try check(ccurl_setopt_read_function(handle.raw, UploadCallbacks.read))
            try check(ccurl_setopt_header_function(handle.raw, UploadCallbacks.header))
            try check(ccurl_setopt_write_function(handle.raw, UploadCallbacks.write))
            try handle.set(CURLOPT_NOPROGRESS, true)
        } catch let error as DiskImportError {
            throw fail(error)
        }
        let code: CURLcode = withExtendedLifetime(context) {
            let user = Unmanaged.passUnretained(context).toOpaque()
            _ = ccurl_setopt_pointer(handle.raw, CURLOPT_READDATA, user)
            _ = ccurl_setopt_pointer(handle.raw, CURLOPT_HEADERDATA, user)
            _ = ccurl_setopt_pointer(handle.raw, CURLOPT_WRITEDATA, user)
            return handle.perform()
        }
        if let error = context.readError {
            throw fail(DiskImportError.io("read", "the file being uploaded", error))
        }
        guard code == CURLE_OK else {
            var failure = TransferFailure.curl(code, detail: handle.detail(code), systemError: handle.systemError, url: request.url,
                                               connectTimeout: options.connectTimeout)
            if code == CURLE_OPERATION_TIMEDOUT {
                failure = TransferFailure(DiskImportError(.network,
                    "no progress for \(Int(options.stallTimeout)) s uploading to \(DisplayURL.host(request.url))"), retryable: true)
            }
            throw UploadTransportFailure(failure: failure, sent: context.sent)
        }
        return HTTPUploadResponse(status: context.status, headers: context.headers,
                                  body: String(decoding: context.body, as: UTF8.self))
    }

    private func check(_ code: CURLcode) throws {
        guard code == CURLE_OK else { throw DiskImportError(.network, "libcurl: \(String(cString: curl_easy_strerror(code)))") }
    }
}

/// A TLS client certificate and its key (PEM files), for talking to an upload server directly rather than through
/// CDI's upload proxy.
public struct ClientCertificate: Sendable {
    public var certificateFile: String
    public var keyFile: String

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }
}
