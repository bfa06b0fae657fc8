import DiskImportCore
import Foundation
import Synchronization

/// How one registry wants requests authorized, learnt from the `WWW-Authenticate` challenge of `GET /v2/` (the
/// ping) and of any later 401, and the Bearer tokens it has handed out, per scope.
///
/// - No challenge: anonymous.
/// - `Basic`: the client's `--user`/`--password-file` go with each request to the registry host (libcurl never
///   sends them across a redirect to another host or port).
/// - `Bearer realm=… service=… scope=…`: a token from the realm (the distribution token protocol), asked for with
///   the credentials when there are some, anonymously otherwise; it goes in an `Authorization: Bearer` header,
///   which libcurl also keeps from redirect targets on other hosts or ports (a blob's storage host).
///
/// A 401 on a request made with a token (expired, revoked, another scope: `error="invalid_token"` or
/// `"insufficient_scope"`) drops that token and asks the realm for a new one, once per request. Tokens and
/// credentials never appear in a message or a log line.
final class RegistryAuthenticator: Sendable {
    enum Mode: Sendable, Equatable {
        case anonymous
        case basic
        case bearer(realm: String, service: String?)
    }

    /// What to send with one request.
    struct Authorization: Sendable {
        var headers: [String]
        var sendCredentials: Bool
        /// A token went with it: a 401 may mean it expired, and a new one may help.
        var usedToken: Bool
    }

    private struct Token {
        var value: String
        /// Monotonic seconds after which the realm's own expiry has passed.
        var expires: Double
    }

    private struct State {
        var mode: Mode?
        /// "https", or "http" once a plain-HTTP registry answered the ping.
        var scheme: String?
        var tokens: [String: Token] = [:]
    }

    let http: HTTPClient
    /// `host[:port]` of the registry API.
    let host: String
    /// The registry as people name it, for messages.
    let registryName: String
    private let state = Mutex(State())

    init(http: HTTPClient, host: String, registryName: String) {
        self.http = http
        self.host = host
        self.registryName = registryName
    }

    var hasCredentials: Bool { http.options.credentials != nil }

    /// `SCHEME://host[:port]` of the registry API, pinging `/v2/` the first time.
    func baseURL() throws -> String {
        _ = try mode()
        return "\(state.withLock { $0.scheme } ?? "https")://\(host)"
    }

    /// The mode, pinging `/v2/` the first time.
    func mode() throws -> Mode {
        if let mode = state.withLock({ $0.mode }) { return mode }
        let (scheme, head) = try ping()
        let mode: Mode
        switch head.status {
        case 401:
            mode = try Self.mode(from: head, registry: registryName)
        default:
            mode = .anonymous
        }
        http.logger.debug("registry \(registryName): \(scheme), \(Self.describe(mode))")
        state.withLock {
            $0.mode = mode
            $0.scheme = scheme
        }
        return mode
    }

    /// `GET /v2/` over https; when that fails and TLS verification is off, over plain http. This is containers/image's
    /// rule, which CDI's registry import runs on (docker/docker_client.go detectPropertiesHelper: `ping("https")`,
    /// then `ping("http")` if it failed and InsecureSkipVerify is set; a ping succeeds on 200 or 401, and any other
    /// answer or transport error counts as a failure). CDI sets InsecureSkipVerify for insecure registries
    /// (pkg/importer/transport.go buildSourceContext: `DockerInsecureSkipTLSVerify = true` when insecureRegistry).
    private func ping() throws -> (scheme: String, head: HTTPResponseHead) {
        let secure: DiskImportError
        do {
            return ("https", try pingOnce(scheme: "https"))
        } catch let error as DiskImportError {
            guard http.options.insecure else { throw error }
            secure = error
        }
        do {
            let head = try pingOnce(scheme: "http")
            let why = secure.message.contains(TransferFailure.plainHTTPAnswer) ? "it answers in plain HTTP" : secure.message
            Console.writeError("diskimport: warning: \(registryName) does not speak https (\(why)): pulling over plain http, "
                + "as TLS verification is off; anyone on the network path can read and change the image"
                + (hasCredentials ? " and read the credentials" : "") + "\n")
            return ("http", head)
        } catch let plain as DiskImportError {
            throw DiskImportError(secure.kind, "\(registryName): \(secure.message); plain http failed too: \(plain.message)")
        }
    }

    /// One ping: the head of a 2xx or 401 answer, else the error.
    private func pingOnce(scheme: String) throws -> HTTPResponseHead {
        let url = "\(scheme)://\(host)/v2/"
        let response = try http.fetch(url, limit: 64 << 10)
        switch response.head.status {
        case 200..<300, 401:
            return response.head
        case 404:
            throw DiskImportError(.network, "\(registryName) does not look like a container registry (GET /v2/ answered 404)")
        case 400 where scheme == "http" && Self.isTLSPortAnswer(response.body):
            throw DiskImportError(.tls, "\(host) speaks TLS, not plain HTTP (it answered 400 to a plain request)")
        default:
            throw TransferFailure.status(response.head.status, url: url).error
        }
    }

    /// What Go's and nginx's TLS servers answer to a plain-HTTP request on their TLS port.
    static func isTLSPortAnswer(_ body: [UInt8]) -> Bool {
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        return text.contains("HTTP request to an HTTPS server") || text.contains("plain HTTP request was sent to HTTPS port")
    }

    /// What to send with a request needing `scope` (`repository:NAME:pull`).
    func authorization(scope: String) throws -> Authorization {
        switch try mode() {
        case .anonymous:
            return Authorization(headers: [], sendCredentials: false, usedToken: false)
        case .basic:
            return Authorization(headers: [], sendCredentials: hasCredentials, usedToken: false)
        case .bearer(let realm, let service):
            let now = Monotonic.now()
            if let token = state.withLock({ $0.tokens[scope] }), token.expires > now {
                return Authorization(headers: ["Authorization: Bearer \(token.value)"], sendCredentials: false, usedToken: true)
            }
            let token = try fetchToken(realm: realm, service: service, scopes: [scope])
            state.withLock { $0.tokens[scope] = token }
            return Authorization(headers: ["Authorization: Bearer \(token.value)"], sendCredentials: false, usedToken: true)
        }
    }

    /// After a 401 to a request sent with `used`: learns the challenge and says whether a retry can succeed (a new
    /// token, or credentials that were not sent yet). `head` is nil when the response's headers are not at hand
    /// (a streamed blob): the current mode is kept.
    func renew(after head: HTTPResponseHead?, scope: String, used: Authorization) throws -> Bool {
        let challenged = try head.map { try Self.mode(from: $0, registry: registryName) }
        let mode = try challenged ?? mode()
        state.withLock {
            $0.mode = mode
            $0.tokens[scope] = nil
        }
        switch mode {
        case .anonymous:
            return false
        case .basic:
            return hasCredentials && !used.sendCredentials
        case .bearer(let realm, let service):
            if let error = head.flatMap(\.challenge)?.error {
                http.logger.debug("registry \(registryName) refused the token (\(error)): asking \(DisplayURL.host(realm)) for a new one")
            }
            // The challenge's own scope, when it names another one (a blob mounted from another repository).
            var scopes = [scope]
            if let other = head.flatMap(\.challenge)?.scope, other != scope { scopes.append(other) }
            let token = try fetchToken(realm: realm, service: service, scopes: scopes)
            state.withLock { $0.tokens[scope] = token }
            return true
        }
    }

    /// Uses `token` for `scope` from now on, as if the realm had just issued it (lifetime unknown: until the
    /// registry refuses it). For tokens obtained elsewhere, such as the tests' expired and foreign-scope tokens.
    func remember(token: String, for scope: String) {
        state.withLock { $0.tokens[scope] = Token(value: token, expires: .infinity) }
    }

    /// The one-line error for a request that stayed unauthorized (401) or forbidden (403).
    func failure(status: Int, what: String) -> DiskImportError {
        let hint: String
        if status == 403 {
            hint = "access denied"
        } else if hasCredentials {
            hint = "wrong user name or password, or no pull access"
        } else {
            hint = "the registry needs credentials: --user and --password-file"
        }
        return DiskImportError(.auth, "authentication failed (\(status)) for \(what): \(hint)")
    }

    // MARK: Token protocol

    /// GET realm?service=…&scope=… (with Basic credentials when there are some) and reads `token` or
    /// `access_token` from the JSON answer.
    private func fetchToken(realm: String, service: String?, scopes: [String]) throws -> Token {
        guard realm.hasPrefix("https://") || (realm.hasPrefix("http://") && !hasCredentials) else {
            throw DiskImportError(.auth, "\(registryName) sends clients to a token service at \(DisplayURL.redacted(realm)), "
                + "which is not https: refusing to send credentials there")
        }
        var query: [String] = []
        if let service { query.append("service=" + Self.formEncoded(service)) }
        query += scopes.map { "scope=" + Self.formEncoded($0) }
        let url = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
        let started = Monotonic.now()
        let response = try http.fetch(url, sendCredentials: hasCredentials, limit: 1 << 20)
        switch response.head.status {
        case 200:
            break
        case 401, 403:
            throw DiskImportError(.auth, "authentication failed (\(response.head.status)) at the token service of \(registryName) ("
                + "\(DisplayURL.host(realm))): " + (hasCredentials ? "wrong user name or password" : "it needs credentials: --user and --password-file"))
        default:
            throw DiskImportError(.auth, "the token service of \(registryName) (\(DisplayURL.host(realm))) answered \(response.head.status)")
        }
        guard let answer = try? JSONDecoder().decode(TokenJSON.self, from: Data(response.body)),
              let value = [answer.token, answer.accessToken].compactMap({ $0 }).first(where: { !$0.isEmpty }) else {
            throw DiskImportError(.auth, "the token service of \(registryName) (\(DisplayURL.host(realm))) answered without a token")
        }
        // A token printed into a header must not be able to add header lines.
        guard value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw DiskImportError(.auth, "the token service of \(registryName) (\(DisplayURL.host(realm))) answered with a malformed token")
        }
        // The distribution spec's default lifetime is 60 s; a few seconds are kept back for the clock and the trip.
        let lifetime = Double(max(answer.expiresIn ?? 60, 0))
        http.logger.debug("registry \(registryName): token for \(scopes.joined(separator: " ")) from \(DisplayURL.host(realm)), valid \(Int(lifetime)) s")
        return Token(value: value, expires: started + max(lifetime - 10, 0))
    }

    private struct TokenJSON: Decodable {
        var token: String?
        var accessToken: String?
        var expiresIn: Int?

        enum CodingKeys: String, CodingKey {
            case token, accessToken = "access_token", expiresIn = "expires_in"
        }
    }

    /// application/x-www-form-urlencoded value: everything but unreserved characters percent-encoded.
    static func formEncoded(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || "-._~".utf8.contains(byte) {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// The mode a 401's challenge asks for: Bearer when offered (with a realm), else Basic.
    static func mode(from head: HTTPResponseHead, registry: String) throws -> Mode {
        let challenges = head.challenges
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }) {
            guard let realm = bearer.realm, realm.hasPrefix("https://") || realm.hasPrefix("http://") else {
                throw DiskImportError(.auth, "\(registry) asks for a Bearer token without a usable realm URL")
            }
            return .bearer(realm: realm, service: bearer.service)
        }
        if challenges.contains(where: { $0.scheme == "basic" }) { return .basic }
        if let other = challenges.first {
            throw DiskImportError.unsupported("\(registry) asks for \(other.scheme) authentication, which diskimport does not speak (Basic and Bearer only)")
        }
        throw DiskImportError(.auth, "\(registry) answered 401 without a WWW-Authenticate challenge")
    }

    private static func describe(_ mode: Mode) -> String {
        switch mode {
        case .anonymous: return "no authentication"
        case .basic: return "Basic authentication"
        case .bearer(let realm, _): return "Bearer tokens from \(DisplayURL.host(realm))"
        }
    }
}

extension HTTPResponseHead {
    /// Every challenge of every WWW-Authenticate header.
    var challenges: [RegistryChallenge] {
        headers.filter { $0.name == "www-authenticate" }.flatMap { RegistryChallenge.parse($0.value) }
    }

    /// The Bearer challenge, else the first one.
    var challenge: RegistryChallenge? {
        let all = challenges
        return all.first(where: { $0.scheme == "bearer" }) ?? all.first
    }
}
