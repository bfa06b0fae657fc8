/// Where an import's bytes come from, parsed from the SOURCE argument or IMPORTER_ENDPOINT.
public enum SourceLocation: Equatable, Sendable, CustomStringConvertible {
    /// A local file, block device, FIFO or character device.
    case file(path: String)
    /// `-`: standard input (a pipe, or a file redirected in).
    case standardInput
    /// An http:// or https:// URL (its scheme in lower case).
    case http(url: String)
    /// A docker:// reference: registry host, repository, and a tag or digest.
    case registry(reference: String)
    /// A URL whose scheme diskimport does not read (`ftp://`, `s3://` …); `SourceOpener` refuses it by name.
    case unsupportedScheme(String)

    /// The URL schemes diskimport reads, each with the location its text makes (the whole URL with its scheme in
    /// lower case, and the part after `scheme://`). A new transport is one more line here and one more case in
    /// `SourceOpener`.
    static let schemes: [(scheme: String, location: @Sendable (_ url: String, _ rest: String) -> SourceLocation)] = [
        ("http", { url, _ in .http(url: url) }),
        ("https", { url, _ in .http(url: url) }),
        ("docker", { _, rest in .registry(reference: rest) }),
        ("file", { _, rest in .file(path: rest) }),
    ]

    /// The sources diskimport reads, for messages.
    public static var supported: String {
        "a local path, - (standard input), " + schemes.map { "\($0.scheme)://" }.joined(separator: ", ")
    }

    public init(_ text: String) {
        if text == "-" {
            self = .standardInput
            return
        }
        guard let scheme = Self.scheme(of: text) else {
            self = .file(path: text)
            return
        }
        // Schemes are case-insensitive (RFC 3986 section 3.1): HTTP://host/x is http://host/x.
        let lowered = scheme.lowercased()
        let rest = String(text.dropFirst(scheme.count + 3))
        guard let known = Self.schemes.first(where: { $0.scheme == lowered }) else {
            self = .unsupportedScheme(lowered)
            return
        }
        self = known.location(lowered + "://" + rest, rest)
    }

    /// The scheme of `text` when it starts with `scheme://` (RFC 3986: a letter, then letters, digits, `+`, `-` or
    /// `.`); nil for a path. A relative path that looks like a URL can be given as `./name`.
    static func scheme(of text: String) -> String? {
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound]
        guard let first = scheme.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic,
              scheme.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0)) })
        else { return nil }
        return String(scheme)
    }

    public var description: String {
        switch self {
        case .file(let path): return path
        case .standardInput: return "-"
        case .http(let url): return url
        case .registry(let reference): return "docker://\(reference)"
        case .unsupportedScheme(let scheme): return "\(scheme)://"
        }
    }
}
