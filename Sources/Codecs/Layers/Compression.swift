import DiskImportCore

/// Compression wrappers diskimport peels off a stream, recognised by magic, never by file name.
public enum Compression: String, Sendable, CaseIterable {
    case gzip, xz, zstd

    /// The wrapper whose magic starts `head`, if any.
    public static func detect(head: some Collection<UInt8>) -> Compression? {
        if head.starts(with: [0x1f, 0x8b]) { return .gzip }
        if head.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { return .xz }
        if head.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return .zstd }
        return nil
    }

    /// A stream of the decompressed bytes of `upstream`, with the decoder's default memory limits.
    public func decoder(for upstream: ByteStream) throws -> ByteStream {
        switch self {
        case .gzip: return try GzipStream(upstream)
        case .xz: return try XzStream(upstream)
        case .zstd: return try ZstdStream(upstream)
        }
    }
}
