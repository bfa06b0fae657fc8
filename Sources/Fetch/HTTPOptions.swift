import DiskImportCore
import SystemPackage

/// How diskimport talks HTTP(S): trust, credentials, headers, proxy, and the limits that keep a transfer from
/// hanging. The CLI fills it from flags (`NetworkOptions`), the pod mode from CDI's environment.
public struct HTTPOptions: Sendable {
    /// PEM files of extra trusted CAs (`--ca-file`, and every *.crt / *.pem in `--cert-dir`); they are trusted in
    /// addition to the system's CAs, as CDI does.
    public var caFiles: [String] = []
    /// Skip certificate verification (`--insecure`, INSECURE_TLS).
    public var insecure = false
    /// Basic-auth credentials, sent only to the host of the request (never across a redirect to another host,
    /// port or scheme).
    public var credentials: Credentials?
    /// Extra request headers (`--header 'Name: value'`, IMPORTER_EXTRA_HEADER_*).
    public var headers: [HTTPHeader] = []
    /// A proxy URL (`--proxy`); when nil, libcurl reads http_proxy, https_proxy and no_proxy from the environment.
    public var proxy: String?
    /// A transfer whose response has begun and then receives nothing for this long is dropped (and resumed, while
    /// retries last).
    public var stallTimeout: Double = 30
    /// Seconds allowed for TCP connect and TLS handshake (`--connect-timeout`).
    public var connectTimeout: Double = 10
    /// Seconds from the start of a request to the first line of its response (`--first-byte-timeout`): a server that
    /// accepts the connection and says nothing is given up on after this long, not after the stall timeout's.
    public var firstByteTimeout: Double = 30
    /// Reconnects allowed after failures in a row (an attempt that delivered new bytes resets the count).
    public var retries = 5
    /// No retry starts once failures in a row have taken this long (`--retry-max-time`, as curl's): a closed port
    /// is retried with back-off for about 15 s; a silent server, whose every attempt takes `firstByteTimeout`, is
    /// given up on after two attempts instead of six (195 s before this bound).
    public var retryMaxTime: Double = 60
    /// The first back-off delay, doubled after each failed attempt up to `maximumRetryDelay`, each wait jittered
    /// by ±50% (`RetryBudget`).
    public var retryDelay: Double = 0.5
    public var maximumRetryDelay: Double = 8
    /// The HTTP version for bulk bodies. HTTP/1.1 is the default: over TLS from nginx on loopback, HTTP/2 took
    /// 1.10x the wall time of HTTP/1.1 for the same body with the same libcurl (scripts/bench-http; DESIGN.md
    /// measured 700 vs 900 MB/s), as HTTP/2 framing and flow-control windows cost CPU and round trips.
    public var bulkVersion: HTTPVersion = .http1_1

    /// Read a plain qcow2 over HTTP by ranged requests (metadata and allocated clusters only) instead of streaming
    /// the whole file. Off by default: for a 384 MiB qcow2 written by qemu-img, ranged reads took 1.01x and 1.40x
    /// the wall time of streaming in two runs from nginx on loopback (scripts/bench-http) — such a file is nearly all allocated
    /// clusters with its tables first, so both move the same bytes — and streaming needs no Range support, uses
    /// one connection, and lets --checksum see every byte. Ranges win only for files with much unreferenced data.
    public var randomAccess = false

    public init() {}

    /// Adds `--cert-dir`: every regular *.crt and *.pem file in `directory`, in name order.
    public mutating func addCertificateDirectory(_ directory: String) throws {
        caFiles += try CertificateBundle.certificateFiles(in: directory)
    }
}

public enum HTTPVersion: Sendable {
    case http1_1, http2
}

/// One request header, as given by `--header 'Name: value'`.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// Parses "Name: value"; the name must be a token and the line must not contain CR or LF.
    public init(parsing line: String) throws {
        guard let colon = line.firstIndex(of: ":") else {
            // The text is not echoed: a header is where tokens go.
            throw DiskImportError.usage("a --header value is not of the form 'Name: value' (it has no colon)")
        }
        let name = String(line[..<colon]).trimmingSpaces
        let value = String(line[line.index(after: colon)...]).trimmingSpaces
        let token = name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
        guard !name.isEmpty, token, !value.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) else {
            throw DiskImportError.usage("a --header value is not a valid 'Name: value' header (the name must be an HTTP token, "
                + "the value must not contain line breaks)")
        }
        self.init(name: name, value: value)
    }

    var line: String { "\(name): \(value)" }
}

/// A user name and password. `description` never shows the password.
public struct Credentials: Sendable, CustomStringConvertible {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Reads the password from a file (`--password-file`, a mounted Secret); one trailing newline is dropped.
    public init(user: String, passwordFile: String) throws {
        var bytes = try SmallFile.read(passwordFile, limit: 64 << 10, what: "password file")
        if bytes.last == 0x0a { bytes.removeLast() }
        if bytes.last == 0x0d { bytes.removeLast() }
        guard let password = String(validating: bytes, as: UTF8.self) else {
            throw DiskImportError.usage("password file \(passwordFile) is not UTF-8 text")
        }
        self.init(user: user, password: password)
    }

    public var description: String { "\(user) (password hidden)" }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
