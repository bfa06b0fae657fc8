/// What an object store adds to each HTTP request so that the store accepts it: an AWS Signature V4 made by libcurl
/// (`S3Signer`), or an OAuth2 bearer token renewed before it expires (`GCSSigner`).
///
/// Applied on every attempt (a resume after a cut is signed afresh, with a token that is still valid). Nothing a
/// signer returns or sets is ever logged or put into a message.
protocol RequestSigner: Sendable {
    /// Header lines for this attempt, after the request's own.
    func headerLines() throws -> [String]
    /// libcurl options for this attempt on `handle` (CURLOPT_AWS_SIGV4 and the key pair, or none).
    func configure(_ handle: CurlHandle) throws
}

extension HTTPRequest {
    /// An object store's GET as every attempt repeats it: signed by `signer` (never the client's Basic credentials;
    /// nil: anonymous), and ranged after a cut whether or not the store says `Accept-Ranges` (object stores always
    /// serve ranges).
    static func objectGet(_ url: String, signer: RequestSigner?) -> HTTPRequest {
        var request = HTTPRequest(url: url)
        request.signer = signer
        request.sendCredentials = false
        request.rangesAlwaysServed = true
        return request
    }
}
