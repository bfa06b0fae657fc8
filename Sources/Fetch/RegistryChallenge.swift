/// One challenge of a `WWW-Authenticate` header (RFC 9110 11.6.1): a scheme and its auth-params, as a registry
/// sends them, e.g. `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`
/// or `Basic realm="registry"`.
///
/// Values may be tokens or quoted strings; quoted strings may hold commas, `=` and backslash escapes. Scheme and
/// parameter names are case-insensitive (kept lowercase here); values keep their case.
public struct RegistryChallenge: Sendable, Equatable {
    /// Lowercase: "basic", "bearer", ...
    public var scheme: String
    /// Parameter names lowercase.
    public var parameters: [String: String]

    public init(scheme: String, parameters: [String: String] = [:]) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }
    /// RFC 6750's error code: `invalid_token` (expired, or signed by someone else), `insufficient_scope`.
    public var error: String? { parameters["error"] }

    /// Every challenge in a header value. Several challenges may share one value, separated by commas: a name not
    /// followed by `=` starts the next one. Malformed parts end parsing; what was read so far is returned.
    public static func parse(_ header: String) -> [RegistryChallenge] {
        var scanner = ChallengeScanner(Array(header.utf8))
        var challenges: [RegistryChallenge] = []
        while true {
            scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2c }
            guard let scheme = scanner.token() else { break }
            var challenge = RegistryChallenge(scheme: scheme)
            // auth-params: name "=" (token | quoted-string), separated by commas.
            while true {
                let mark = scanner.position
                scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2c }
                guard let name = scanner.token() else { break }
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                guard scanner.take(0x3d) else {
                    scanner.position = mark   // a new scheme, not a parameter
                    break
                }
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                guard let value = scanner.quoted() ?? scanner.token() else { return challenges + [challenge] }
                challenge.parameters[name.lowercased()] = value
            }
            challenges.append(challenge)
        }
        return challenges
    }
}

/// A cursor over the bytes of a header value.
private struct ChallengeScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skip(while predicate: (UInt8) -> Bool) {
        while position < bytes.count && predicate(bytes[position]) { position += 1 }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// An RFC 9110 token (tchar+). The token68 form (`Basic dXNlcg==`) is read as a token too; its trailing `=`
    /// padding is left, which ends the challenge, and a challenge carries nothing a client needs there.
    mutating func token() -> String? {
        let start = position
        skip { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "!#$%&'*+-.^_`|~/".utf8.contains(c)
        }
        return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
    }

    /// A quoted string with backslash escapes; nil when not at a quote or when unterminated.
    mutating func quoted() -> String? {
        guard position < bytes.count, bytes[position] == 0x22 else { return nil }
        var value: [UInt8] = []
        var i = position + 1
        while i < bytes.count {
            switch bytes[i] {
            case 0x22:
                position = i + 1
                return String(decoding: value, as: UTF8.self)
            case 0x5c where i + 1 < bytes.count:
                value.append(bytes[i + 1])
                i += 2
            default:
                value.append(bytes[i])
                i += 1
            }
        }
        return nil
    }
}
