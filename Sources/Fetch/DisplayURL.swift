/// URLs as diskimport prints them: never with credentials.
///
/// User info (`user:password@`) is dropped, and a query string is hidden, because presigned URLs (S3, registry
/// blob redirects) carry their signature there.
public enum DisplayURL {
    public static func redacted(_ url: String) -> String {
        var text = Substring(url)
        var scheme = ""
        if let end = schemeEnd(text) {
            scheme = String(text[..<end])
            text = text[end...]
        }
        let authorityEnd = text.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? text.endIndex
        var authority = text[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var rest = text[authorityEnd...]
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] + "?…" }
        return scheme + authority + rest
    }

    /// The host (and port) of a URL, for messages such as "TLS verification failed for HOST".
    public static func host(_ url: String) -> String {
        let redacted = redacted(url)
        var text = Substring(redacted)
        if let end = schemeEnd(text) { text = text[end...] }
        return String(text.prefix(while: { $0 != "/" && $0 != "?" }))
    }

    /// The index just past "scheme://", when the text starts with a scheme.
    private static func schemeEnd(_ text: Substring) -> Substring.Index? {
        guard let colon = text.firstIndex(of: ":"), text[..<colon].allSatisfy({ $0.isLetter || $0 == "+" || $0 == "." || $0 == "-" }),
              text[colon...].hasPrefix("://") else { return nil }
        return text.index(colon, offsetBy: 3)
    }
}
