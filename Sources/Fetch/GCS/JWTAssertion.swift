import Foundation

/// The OAuth2 JWT-bearer assertion (RFC 7523) a service account signs to ask for an access token, as Google's
/// client libraries make it: header {"alg":"RS256","typ":"JWT","kid":KEY_ID}, claims iss (the account), scope,
/// aud (the token endpoint), iat and exp (an hour later, Google's maximum).
enum JWTAssertion {
    /// Read access to objects: all an import needs.
    static let readOnlyScope = "https://www.googleapis.com/auth/devstorage.read_only"
    static let lifetime: Int = 3600

    static func make(for key: ServiceAccountKey, now: Int, scope: String = readOnlyScope) throws -> String {
        let header = try JSONSerialization.data(withJSONObject: ["alg": "RS256", "typ": "JWT", "kid": key.privateKeyID], options: [.sortedKeys])
        let claims = try JSONSerialization.data(withJSONObject: [
            "iss": key.clientEmail, "scope": scope, "aud": key.tokenURI, "iat": now, "exp": now + lifetime,
        ] as [String: Any], options: [.sortedKeys, .withoutEscapingSlashes])
        let signingInput = base64URL(header) + "." + base64URL(claims)
        let signature = try RS256Signature.sign(Array(signingInput.utf8), privateKeyPEM: key.privateKeyPEM)
        return signingInput + "." + base64URL(Data(signature))
    }

    /// Base64url without padding (RFC 7515 section 2).
    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
