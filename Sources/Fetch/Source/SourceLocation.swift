/// Where an import's bytes come from, parsed from the SOURCE argument or IMPORTER_ENDPOINT.
public enum SourceLocation: Equatable, Sendable, CustomStringConvertible {
    /// A local file or block device.
    case file(path: String)
    /// An http:// or https:// URL.
    case http(url: String)
    /// A docker:// reference: registry host, repository, and a tag or digest.
    case registry(reference: String)

    /// The URL schemes diskimport reads, each with the location its text makes (the whole text for URLs, the part
    /// after the scheme otherwise). A new transport is one more line here and one more case in `SourceOpener`.
    static let schemes: [(prefix: String, location: @Sendable (_ text: String, _ rest: String) -> SourceLocation)] = [
        ("http://", { text, _ in .http(url: text) }),
        ("https://", { text, _ in .http(url: text) }),
        ("docker://", { _, rest in .registry(reference: rest) }),
        ("file://", { _, rest in .file(path: rest) }),
    ]

    public init(_ text: String) {
        for scheme in Self.schemes where text.hasPrefix(scheme.prefix) {
            self = scheme.location(text, String(text.dropFirst(scheme.prefix.count)))
            return
        }
        self = .file(path: text)
    }

    public var description: String {
        switch self {
        case .file(let path): return path
        case .http(let url): return url
        case .registry(let reference): return "docker://\(reference)"
        }
    }
}
