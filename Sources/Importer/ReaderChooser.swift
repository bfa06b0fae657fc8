import Codecs
import DiskImage
import DiskImportCore
import Fetch

/// Chooses the reader for an opened source: asks the image's format what it can do with what the source offers
/// (`FormatCapabilities`), best first: random access to a plain local file, ranged reads, xz blocks decoded in
/// parallel, and front to back as the fallback every format has.
struct ReaderChooser {
    let request: ConvertRequest
    let source: any OpenedSource
    let progress: TransferProgress

    /// What the readers get; `inside` names the wrappers around the image.
    func options(inside: String = "") -> ReaderOptions {
        ReaderOptions(name: source.displayName, scratchDirectory: request.scratchDirectory, followBacking: request.followBacking,
                      decodedLimit: request.requestedSize ?? .max, decodedLimitReason: "the requested size", inside: inside,
                      sniffsRawTrailer: request.format.sniffsRawTrailer)
    }

    /// A plain local file whose format reads local files with random access (a raw file by its extents: shared,
    /// copied in the kernel, holes skipped; a qcow2 with its backing chain), sniffed with pread so that nothing is
    /// streamed. Nil when a checksum asks for every byte to be read, or the file is wrapped.
    func plainLocalReader() throws -> (DiskImageReader, [String])? {
        guard request.checksum == nil, let file = source.localFile else { return nil }
        let detected = FormatSniffer.detect(head: try file.head(FormatSniffer.headLength))
        // An unsupported format is refused by the stream path, with its wrappers named.
        if case .unsupported = detected, request.format == .probe { return nil }
        guard let format = try request.format.format(for: detected, source: source.displayName, inside: ""),
              format.reading.capabilities.contains(.localFile) else { return nil }
        if format == .raw, request.format.sniffsRawTrailer, let trailer = try FormatSniffer.trailer(of: file) {
            try FormatSniffer.refuse(trailer: trailer)
        }
        // Progress follows guest bytes, not a sniffing stream.
        progress.setSourceTotal(0)
        return (try format.reading.randomAccessReader(file, options: options()), [format.name])
    }

    /// Peels `stack` down to the image and returns its reader and the layer names, outermost first. At each xz layer
    /// the image inside is sniffed from its decoded head first: a format that decodes xz blocks in parallel takes the
    /// layer over, placing each block as it is decoded (no in-order queue).
    func reader(peeling stack: LayerStack) throws -> (DiskImageReader, [String]) {
        try stack.peelToImage(choice: request.format, source: source.displayName, xzLayer: xzBlockReader(in:)) { format in
            (try reader(for: format, in: stack), stack.layers + [format.name])
        }
    }

    /// The reader of the image at the top of `stack`: by ranged reads of metadata and allocated data when the image
    /// is not wrapped, no checksum needs every byte and the source offers ranges (--http-random-access); else front to
    /// back, which needs no seeking and no decompressing to scratch first.
    ///
    /// A raw image that is the source itself, when the source reads its end cheaply (ranges), has its last sector
    /// sniffed before anything is written (a DMG is refused); any other raw image at the end of its stream.
    private func reader(for format: ImageFormat, in stack: LayerStack) throws -> DiskImageReader {
        let reading = format.reading
        // A failed probe or read leaves the check to the stream's end.
        if stack.layers.isEmpty, format == .raw, request.format.sniffsRawTrailer, let ranged = try? source.rangedReader(),
           let trailer = try? FormatSniffer.trailer(of: ranged) {
            try FormatSniffer.refuse(trailer: trailer)
        }
        if stack.layers.isEmpty, request.checksum == nil, reading.capabilities.contains(.rangedReads),
           source.prefersRangedReads, let ranged = try source.rangedReader() {
            progress.setSourceTotal(0)
            return try reading.randomAccessReader(ranged, options: options())
        }
        return try reading.streamingReader(stack.stream, length: stack.length, options: options(inside: stack.inside))
    }

    /// The xz-block reader of the image inside the xz layer at the top of `stack`, which it then counts as peeled;
    /// nil when that is turned off (DISKIMPORT_XZ_PARALLEL=0), the decoded head does not come from the bytes peeked,
    /// or the format has none for this image.
    private func xzBlockReader(in stack: LayerStack) throws -> (DiskImageReader, [String])? {
        guard XzBlockParallelism.isEnabled,
              let head = try XzHead.decoded(peeking: stack.stream, count: FormatSniffer.headLength),
              let format = try? request.format.format(for: FormatSniffer.detect(head: head), source: source.displayName, inside: ""),
              format.reading.capabilities.contains(.xzBlocks),
              let reader = try format.reading.xzBlockReader(stack.stream, decodedHead: head, options: options(inside: stack.inside))
        else { return nil }
        _ = try stack.handOver(.compressed(.xz))
        return (reader, stack.layers + [format.name])
    }
}
