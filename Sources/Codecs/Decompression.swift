import DiskImportCore

/// Peeling compression wrappers by magic, for callers that want the bytes underneath (tar layers, archives).
public enum Decompression {
    /// Wrappers peeled at most: real data has one (a .tar.gz layer), rarely two; eight is a hostile stack.
    public static let maximumLayers = 4

    /// `stream` with every compression wrapper at its head removed (gzip, xz, zstd, in any stacking).
    /// With `threaded`, each decoder runs on its own thread (`PrefetchingStream`), overlapping with the reader after it.
    public static func peel(_ stream: ByteStream, maximumLayers: Int = maximumLayers, threaded: Bool = true) throws -> ByteStream {
        var current = PeekableStream(stream)
        var layers = 0
        while let compression = Compression.detect(head: try current.peek(8)) {
            layers += 1
            if layers > maximumLayers {
                throw DiskImportError.unsupported("more than \(maximumLayers) nested compression layers (a hostile file?)")
            }
            let decoder = try compression.decoder(for: current)
            current = PeekableStream(threaded ? try PrefetchingStream(decoder) : decoder)
        }
        return current
    }
}
