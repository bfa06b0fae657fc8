import DiskImportCore

/// The layers of a source, peeled from the outside in: compression (gzip, xz, zstd) and tar wrappers, recognised by
/// magic, until what is left is the disk image (or, for a tar layer's own callers, the tar).
///
/// Every path that unwraps bytes uses this one stack (convert, info, registry layers, archive imports), so every
/// path has the same wrappers, the same bound on nesting and the same messages. What counts as a wrapper at a given
/// head is the caller's to say: the disk image sniffer (DiskImage's `peelToImage`) knows formats whose magic must win
/// over a tar's; a tar layer's own callers only peel compression (`peelCompression`).
public final class LayerStack {
    /// Wrappers peeled at most, across the whole source (a registry layer's included). Real files have one or two
    /// (`disk.qcow2.xz`, a `.tar.gz` layer); a stack of eight is a hostile file, not an image.
    public static let maximumWrappers = 4

    /// How the stack runs its decoders.
    public enum DecoderPlacement: Sendable {
        /// Each decoder on its own thread behind a `PrefetchingStream`, so decoding overlaps the stage after it (the
        /// next decoder, or writing the target): imports.
        case threaded
        /// On the reader's thread, and xz on one thread: nothing reads ahead of what the reader asks for, so a reader
        /// that stops after a header (info) has cost a few hundred KiB of transfer.
        case inline
    }

    /// The top layer: the bytes under every wrapper peeled so far.
    public private(set) var stream: PeekableStream
    /// The wrappers peeled so far, outermost first (a transport's own first: a registry layer's ["gzip", "tar"]).
    public private(set) var layers: [String]
    /// The top layer's length when known (the source's length, a tar entry's size); nil under a decoder.
    public private(set) var length: UInt64?
    public let placement: DecoderPlacement
    /// The disk to take from an OVA (`--disk N`, 1-based); nil takes the first, and refuses nothing.
    public var ovaDisk: Int?

    /// - Parameters:
    ///   - length: the source's length, when known.
    ///   - peeled: wrappers the transport peeled already; they count towards `maximumWrappers`.
    public init(_ source: ByteStream, length: UInt64?, peeled: [String] = [], placement: DecoderPlacement = .threaded) {
        stream = source as? PeekableStream ?? PeekableStream(source)
        self.length = length
        layers = peeled
        self.placement = placement
    }

    /// Up to `count` bytes of the top layer's head, not consumed.
    public func peek(_ count: Int) throws -> [UInt8] { try stream.peek(count) }

    /// Peels the compression wrappers at the head: what a tar layer's callers want underneath.
    public func peelCompression() throws {
        while let compression = Compression.detect(head: try stream.peek(8)) {
            try peel(.compressed(compression))
        }
    }

    /// Peels `wrapper` off the top layer: a decoder, or the tar's disk entry (`TarDiskEntry.open`), an OVA's disk
    /// included (named "ova" in `layers`).
    public func peel(_ wrapper: Wrapper) throws {
        try admit(wrapper)
        switch wrapper {
        case .compressed(let compression):
            stream = PeekableStream(try decoder(compression, for: stream))
            length = nil
        case .tar:
            let (entry, isOva) = try TarDiskEntry.open(stream, ovaDisk: ovaDisk)
            if isOva { layers[layers.count - 1] = "ova" }
            length = entry.expectedLength
            stream = PeekableStream(entry)
        }
    }

    /// Counts `wrapper` as peeled without installing a decoder, and returns its bytes: for a reader that decodes the
    /// wrapper itself (xz blocks decoded in parallel straight into the target).
    public func handOver(_ wrapper: Wrapper) throws -> PeekableStream {
        try admit(wrapper)
        return stream
    }

    /// " inside xz inside gzip" for the wrappers peeled so far, innermost first; empty at the top.
    public var inside: String {
        layers.isEmpty ? "" : " inside " + layers.reversed().joined(separator: " inside ")
    }

    /// Records `wrapper`, refusing it when the stack already holds the most a real file has.
    private func admit(_ wrapper: Wrapper) throws {
        if layers.count >= Self.maximumWrappers {
            throw DiskImportError.unsupported("more than \(Self.maximumWrappers) nested compression or tar layers "
                + "(\(layers.joined(separator: ", ")), …): refusing a hostile stack")
        }
        layers.append(wrapper.name)
    }

    private func decoder(_ compression: Compression, for upstream: PeekableStream) throws -> ByteStream {
        switch placement {
        case .inline:
            // xz on one thread: the threaded decoder would read whole blocks ahead for its workers.
            return compression == .xz ? try XzStream(upstream, threads: 1) : try compression.decoder(for: upstream)
        case .threaded:
            // Measured on raw images: the stage after the decoder is 14% of the CPU behind gzip, 32% behind zstd,
            // 3% behind xz; on a free core that much overlaps instead of adding up. Behind xz, whose threaded
            // decoder queues whole decoded blocks itself, four 256 KiB chunks are slack enough and keep the
            // import inside its 128 MiB RSS budget (see XzStream.defaultThreadingMemoryLimit).
            let chunkSize = compression == .xz ? 256 << 10 : 1 << 20
            return try PrefetchingStream(try compression.decoder(for: upstream), chunkSize: chunkSize, depth: 4)
        }
    }
}
