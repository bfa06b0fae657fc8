/// A layer that wraps the next one: a compression, or a tar archive whose disk entry is the next layer.
public enum Wrapper: Equatable, Sendable {
    case compressed(Compression)
    case tar

    /// The layer's name in `layers` (info, `--json`) and in messages: "gzip", "xz", "zstd", "tar".
    public var name: String {
        switch self {
        case .compressed(let compression): return compression.rawValue
        case .tar: return "tar"
        }
    }

    /// Whether `head` carries a tar header's magic (POSIX ustar and GNU tar both write "ustar" at offset 257).
    public static func isTar(head: some Collection<UInt8>) -> Bool {
        head.dropFirst(257).starts(with: Array("ustar".utf8))
    }
}
