import DiskImportCore
import Foundation

/// OAuth2 access tokens for a service account: a signed JWT assertion exchanged at the key's token endpoint
/// (grant type urn:ietf:params:oauth:grant-type:jwt-bearer), kept while valid and renewed before it expires, so a
/// download that outlives one token (or resumes after a long stall) goes on with the next.
///
/// Thread-safe: the download thread asks for a token before each attempt. Tokens are never logged.
final class AccessTokenSource: @unchecked Sendable {
    let key: ServiceAccountKey
    private let client: HTTPClient
    private let monitor = Monitor()
    private var cached: (token: String, renewAt: Double)?

    init(key: ServiceAccountKey, client: HTTPClient) {
        self.key = key
        self.client = client
    }

    /// A token valid for a while yet: the cached one until a quarter of its lifetime (at most 5 minutes) is left.
    func token() throws -> String {
        try monitor.locked {
            if let cached, Monotonic.now() < cached.renewAt { return cached.token }
            let (token, lifetime) = try fetch()
            cached = (token, Monotonic.now() + lifetime - min(300, lifetime / 4))
            return token
        }
    }

    /// Forgets the cached token (the server refused it: clock skew, a revoked token).
    func invalidate() {
        monitor.locked { cached = nil }
    }

    private func fetch() throws -> (String, Double) {
        let assertion = try JWTAssertion.make(for: key, now: Int(Date().timeIntervalSince1970))
        var request = HTTPRequest(url: key.tokenURI)
        request.method = .post
        request.sendCredentials = false
        request.body = ("application/x-www-form-urlencoded",
                        Array("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)".utf8))
        let endpoint = DisplayURL.host(key.tokenURI)
        let response = try client.send(request, limit: 64 << 10)
        struct Answer: Decodable {
            var access_token: String?
            var expires_in: Double?
            var error: String?
            var error_description: String?
        }
        let answer = try? JSONDecoder().decode(Answer.self, from: Data(response.body))
        guard response.head.status == 200, let token = answer?.access_token, !token.isEmpty else {
            let reason = [answer?.error, answer?.error_description.map(S3ErrorDocument.printable)].compactMap { $0 }.joined(separator: ": ")
            throw DiskImportError(.auth, "the token endpoint \(endpoint) refused \(key) (\(response.head.status)"
                + (reason.isEmpty ? ")" : " \(reason))"))
        }
        return (token, max(1, answer?.expires_in ?? 3600))
    }
}
