/// Where an import's bytes come from, parsed from the SOURCE argument or IMPORTER_ENDPOINT.
public enum SourceLocation: Equatable, Sendable, CustomStringConvertible {
    /// A local file or block device.
    case file(path: String)
    /// An http:// or https:// URL.
    case http(url: String)
    /// A docker:// reference: registry host, repository, and a tag or digest.
    case registry(reference: String)

    public init(_ text: String) {
        if text.hasPrefix("http://") || text.hasPrefix("https://") {
            self = .http(url: text)
        } else if text.hasPrefix("docker://") {
            self = .registry(reference: String(text.dropFirst("docker://".count)))
        } else if text.hasPrefix("file://") {
            self = .file(path: String(text.dropFirst("file://".count)))
        } else {
            self = .file(path: text)
        }
    }

    public var description: String {
        switch self {
        case .file(let path): return path
        case .http(let url): return url
        case .registry(let reference): return "docker://\(reference)"
        }
    }
}
