import CCurl

/// AWS Signature V4 for S3 by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"): a maintained implementation signs
/// every request, ranged resumes included, over the headers set here.
struct S3Signer: RequestSigner {
    let credentials: S3Credentials
    let region: String

    /// SHA-256 of an empty payload: S3 wants x-amz-content-sha256 on every SigV4 request, and libcurl 7.88 signs the
    /// body it sends (none for GET and HEAD) without adding the header itself.
    static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    func headerLines() throws -> [String] {
        var lines = ["x-amz-content-sha256: \(Self.emptyPayloadSHA256)"]
        if let token = credentials.sessionToken { lines.append("x-amz-security-token: \(token)") }
        return lines
    }

    func configure(_ handle: CurlHandle) throws {
        try handle.setAWSSigV4("aws:amz:\(region):s3")
        try handle.set(CURLOPT_USERNAME, string: credentials.accessKeyID)
        try handle.set(CURLOPT_PASSWORD, string: credentials.secretAccessKey)
    }
}
