import CCurl

/// A service account's bearer token on every request (`Authorization: Bearer …`), renewed before it expires.
struct GCSSigner: RequestSigner {
    let tokens: AccessTokenSource

    func headerLines() throws -> [String] { ["Authorization: Bearer \(try tokens.token())"] }

    func configure(_ handle: CurlHandle) throws {
        try handle.set(CURLOPT_USERNAME, string: nil)
        try handle.set(CURLOPT_PASSWORD, string: nil)
    }
}
