import DiskImportCore

/// Peeling compression wrappers by magic, for callers that want the bytes underneath (tar layers, archives).
public enum Decompression {
    /// Wrappers peeled at most: real data has one (a .tar.gz layer), rarely two; eight is a hostile stack.
    public static let maximumLayers = 4

    /// `stream` with every compression wrapper at its head removed (gzip, xz, zstd, in any stacking).
    public static func peel(_ stream: ByteStream, maximumLayers: Int = maximumLayers) throws -> ByteStream {
        var current = PeekableStream(stream)
        var layers = 0
        while let compression = Compression.detect(head: try current.peek(8)) {
            layers += 1
            if layers > maximumLayers {
                throw DiskImportError.unsupported("more than \(maximumLayers) nested compression layers (a hostile file?)")
            }
            current = PeekableStream(try compression.decoder(for: current))
        }
        return current
    }
}
