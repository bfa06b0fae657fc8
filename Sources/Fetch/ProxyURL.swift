import DiskImportCore

extension HTTPOptions {
    /// Checks a `--proxy` value as libcurl takes it: `[SCHEME://]HOST[:PORT][/]` with an http, https or socks scheme
    /// (none means http). A value that is not of that form is a usage error naming what is wrong, instead of a
    /// "cannot resolve" about the host the proxy was to reach.
    public static func checkedProxy(_ text: String) throws -> String {
        let schemes = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"]
        let shown = text.prefix(80)
        func bad(_ why: String) -> DiskImportError {
            DiskImportError.usage("--proxy \(shown) is not a proxy URL: \(why) (expected SCHEME://HOST:PORT with SCHEME one of "
                + schemes.joined(separator: ", ") + ", e.g. http://proxy.example:3128)")
        }
        var rest = Substring(text)
        if let separator = rest.range(of: "://") {
            let scheme = rest[..<separator.lowerBound].lowercased()
            guard schemes.contains(scheme) else { throw bad("the scheme \(scheme) is not one libcurl proxies with") }
            rest = rest[separator.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }   // user:password@ is libcurl's too
        guard !rest.isEmpty else { throw bad("it has no host") }
        guard !rest.contains("/") else { throw bad("it has a path after the host") }
        let host: Substring, port: Substring?
        if rest.hasPrefix("[") {   // [IPv6]:port
            guard let close = rest.firstIndex(of: "]") else { throw bad("an IPv6 address without its closing ]") }
            host = rest[...close]
            let after = rest[rest.index(after: close)...]
            port = after.isEmpty ? nil : after.hasPrefix(":") ? after.dropFirst() : nil
            if !after.isEmpty && port == nil { throw bad("text after the IPv6 address is not :PORT") }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            port = rest[rest.index(after: colon)...]
        } else {
            host = rest
            port = nil
        }
        if let port {
            guard let number = Int(port), (1...65535).contains(number) else { throw bad("the port \(port) is not a number from 1 to 65535") }
        }
        let hostCharacters = host.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "-._[]:%".utf8.contains(c)
        }
        guard !host.isEmpty, hostCharacters else { throw bad("\(host.prefix(60)) is not a host name or address") }
        // A bare word is a valid host name, but "--proxy notaurl" is far more often a mistake than a proxy named so:
        // without a scheme, a port is required (libcurl would otherwise guess 1080).
        if !text.contains("://") && port == nil { throw bad("no scheme and no port") }
        return text
    }
}
