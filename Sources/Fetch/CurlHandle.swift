import CCurl
import CDelayLoad
import DiskImportCore
import SystemPackage

/// One libcurl easy handle (CURL *) with typed setters; a handle keeps its connections alive between requests.
///
/// Used from one thread at a time. libcurl is initialised once per process (curl_global_init) before the first
/// handle, as it must be before any thread uses it.
final class CurlHandle {
    let raw: OpaquePointer
    /// CURLOPT_ERRORBUFFER: libcurl's detail for the last failure ("SSL certificate problem: ...").
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var headerList: UnsafeMutablePointer<curl_slist>?

    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    init() throws {
        guard Self.globalInit == CURLE_OK, let handle = curl_easy_init() else {
            throw DiskImportError(.network, ccurl_load_failure().map { String(cString: $0) } ?? "libcurl could not be initialised")
        }
        raw = handle
        errorBuffer[0] = 0
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
    }

    deinit {
        curl_easy_cleanup(raw)
        if let headerList { curl_slist_free_all(headerList) }
        errorBuffer.deallocate()
    }

    func set(_ option: CURLoption, _ value: Int) throws {
        try check(ccurl_setopt_long(raw, option, value), option)
    }

    func set(_ option: CURLoption, _ value: Bool) throws { try set(option, value ? 1 : 0) }

    func set(_ option: CURLoption, string: String?) throws {
        let code = string.map { s in s.withCString { ccurl_setopt_string(raw, option, $0) } } ?? ccurl_setopt_string(raw, option, nil)
        try check(code, option)
    }

    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) throws {
        try check(ccurl_setopt_pointer(raw, option, pointer), option)
    }

    /// CURLOPT_HTTPHEADER: replaces the request headers (libcurl keeps the list until the next call or cleanup).
    func setHeaders(_ lines: [String]) throws {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                throw DiskImportError(.network, "out of memory building request headers")
            }
            list = appended
        }
        try check(ccurl_setopt_slist(raw, CURLOPT_HTTPHEADER, list), CURLOPT_HTTPHEADER)
        if let headerList { curl_slist_free_all(headerList) }
        headerList = list
    }

    /// CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3") with CURLAUTH_AWS_SIGV4, or nil for no signing (CURLAUTH_BASIC).
    func setAWSSigV4(_ provider: String?) throws {
        let code = provider.map { p in p.withCString { ccurl_setopt_aws_sigv4(raw, $0) } } ?? ccurl_setopt_aws_sigv4(raw, nil)
        try check(code, CURLOPT_AWS_SIGV4)
    }

    /// CURLOPT_CAINFO_BLOB; libcurl copies the bytes.
    func setCABundle(_ pem: [UInt8]) throws {
        let code = pem.withUnsafeBytes { ccurl_setopt_ca_blob(raw, $0.baseAddress, $0.count) }
        try check(code, CURLOPT_CAINFO_BLOB)
    }

    /// curl_easy_perform: runs the request on this thread, with the callbacks set on the handle.
    func perform() -> CURLcode {
        errorBuffer[0] = 0
        return curl_easy_perform(raw)
    }

    /// CURLINFO_OS_ERRNO: the errno behind the last connect failure (ECONNREFUSED …), when there was one.
    var systemError: Errno? {
        var value = 0
        guard ccurl_getinfo_long(raw, CURLINFO_OS_ERRNO, &value) == CURLE_OK, value != 0 else { return nil }
        return Errno(rawValue: Int32(truncatingIfNeeded: value))
    }

    /// libcurl's default CA bundle file (CURLINFO_CAINFO), when it was built with one.
    var defaultCABundle: String? {
        var path: UnsafeMutablePointer<CChar>?
        guard ccurl_getinfo_string(raw, CURLINFO_CAINFO, &path) == CURLE_OK, let path else { return nil }
        return String(cString: path)
    }

    /// The error buffer's text, or curl_easy_strerror's when the buffer is empty.
    func detail(_ code: CURLcode) -> String {
        let text = String(cString: errorBuffer)
        return text.isEmpty ? String(cString: curl_easy_strerror(code)) : text
    }

    private func check(_ code: CURLcode, _ option: CURLoption) throws {
        guard code == CURLE_OK else {
            throw DiskImportError(.network, "libcurl refused option \(option.rawValue): \(String(cString: curl_easy_strerror(code)))")
        }
    }
}
