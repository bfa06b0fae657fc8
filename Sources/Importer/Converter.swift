import Codecs
import DiskImage
import DiskImportCore
import Fetch
import Logging
import Target

/// Plans and runs one import: open the source, peel wrappers by magic, pick the image reader, write the target.
public final class Converter {
    private let request: ConvertRequest
    private let progress: TransferProgress
    private let phases: PhaseRunner
    /// Verifies `request.checksum` once the transfer has consumed the source.
    private var checksumStream: ChecksumStream?
    /// A registry source: the disk's layer, whose digest is verified once the transfer has consumed what it needs.
    private(set) var registryDisk: RegistryDisk?
    /// Bounds the raw bytes a decoder produces (a decompression bomb); tightened to the target's capacity once open.
    private var decodedLimit: (any DecodedSizeLimit)?

    /// An object in S3 or GCS that the caller found (`s3://`, `gs://`, the pod's s3 and gcs sources), read
    /// instead of opening `request.source`.
    private let storedObject: StoredObject?

    public init(request: ConvertRequest, progress: TransferProgress = TransferProgress(), logger: Logger = Log.logger("import"),
                storedObject: StoredObject? = nil) {
        self.request = request
        self.storedObject = storedObject
        self.progress = progress
        phases = PhaseRunner(logger: logger)
    }

    public func run() throws -> ConvertResult {
        let start = MonotonicClock.now()
        let (reader, layers, target) = try phases.run(.info) {
            let (reader, layers) = try openReader()
            progress.setGuestTotal(reader.virtualSize ?? request.requestedSize ?? 0)
            let options = TargetOptions(virtualSize: reader.virtualSize, requestedSize: request.requestedSize,
                                        overhead: request.filesystemOverhead, preallocation: request.preallocation,
                                        durable: request.sync)
            let target = try TargetOpener.open(path: request.target, options: options, progress: progress)
            if let capacity = Self.capacity(of: target) {
                decodedLimit?.tighten(to: capacity, reason: "what \(target.path) can hold")
            }
            return (reader, layers, target)
        }
        do {
            let guestSize = try phases.run(.transfer) {
                let size = try reader.convert(to: target, progress: progress)
                try checksumStream?.verify()
                try registryDisk?.verifyRest()   // before commit: a tampered layer never leaves a complete target
                return size
            }
            let outcome = try phases.run(.resize) { try target.finish(guestSize: guestSize) }
            try phases.run(.complete) { try target.commit(sync: request.sync) }
            return ConvertResult(
                sourceFormat: layers.last ?? "raw", layers: layers, virtualSize: guestSize,
                bytesRead: progress.sourceBytes, bytesWritten: progress.writtenBytes, bytesCloned: progress.clonedBytes,
                holeBytes: progress.holeBytes, scratchBytes: reader.scratchBytes, seconds: MonotonicClock.now() - start,
                targetKind: outcome.kind, targetLength: outcome.length, preallocation: outcome.preallocation)
        } catch {
            target.abort()
            throw error
        }
    }

    /// Wrappers (compression or tar) a source may stack over its image. Real files have one or two
    /// (`disk.qcow2.xz`, a `.tar.gz` layer); a stack of eight is a hostile file, not an image.
    static let maximumWrapperLayers = 4

    /// Sniffs the source layer by layer and returns the image reader and the layer names, outermost first.
    ///
    /// Every decoder runs on its own thread behind a `PrefetchingStream`, so decompression overlaps with the stage
    /// after it (the next decoder, or writing the target). Output of unknown length is bounded by the requested size,
    /// and by the target's capacity once it is open.
    func openReader() throws -> (DiskImageReader, [String]) {
        if let length = request.blankLength { return (BlankDiskReader(length: length), ["blank"]) }
        var source: ByteStream
        let sourceLength: UInt64?
        var localFile: LocalFile?
        var httpURL: String?
        /// Wrappers a transport peeled already (a registry layer's compression and tar).
        var peeled: [String] = []
        let name: String
        if let object = storedObject {
            // Streamed as an http(s) body is: one GET on its own thread, resumed after a cut, overlapping decoding.
            let body = try object.stream(bufferCount: 8, bufferSize: 512 << 10)
            name = object.displayName
            source = body
            sourceLength = object.length
        } else {
        switch SourceLocation(request.source) {
        case .file(let path):
            let file = try LocalFile(path: path)
            localFile = file
            name = path
            // A plain local raw file is read by its extents (shared, copied in the kernel, holes skipped), not
            // streamed — unless a checksum asks for every byte to be read.
            if request.checksum == nil, FormatSniffer.detect(head: try file.head(FormatSniffer.headLength)) == .image(.raw) {
                return (RawFileReader(file: file), ["raw"])
            }
            source = file.stream()
            sourceLength = file.length
        case .http(let url):
            // Streamed: the download runs on its own thread, resumes dropped connections, and overlaps decoding.
            let body = try HTTPStream(client: HTTPClient(options: request.network), url: url)
            httpURL = url
            name = DisplayURL.redacted(url)
            source = body
            sourceLength = body.expectedLength
        case .registry(let text):
            // Manifests resolved and verified, then the layer holding disk/ streamed (download ‖ decompress ‖ this).
            guard request.checksum == nil else {
                throw DiskImportError.usage("--checksum is for http(s) and local sources: registry layers are verified by their digests (pin the image with @sha256:…)")
            }
            let reference = try RegistryReference(parsing: text)
            let client = try RegistryClient(for: reference, options: request.network)
            let disk = try RegistryDisk.open(reference, client: client, platform: request.platform ?? .host)
            registryDisk = disk
            name = reference.description
            source = disk.stream
            sourceLength = disk.length
            peeled = disk.layers
        }
        }
        if let checksum = request.checksum {
            let verifying = try ChecksumStream(source, expected: checksum)
            checksumStream = verifying
            source = verifying
        }
        var stream = PeekableStream(CountingStream(source, progress: progress))
        var layers = peeled
        /// The current layer's length when known (the file's size, a tar entry's size); nil after a decoder.
        var length: UInt64? = sourceLength
        while true {
            switch FormatSniffer.detect(head: try stream.peek(FormatSniffer.headLength)) {
            case .compressed(let compression):
                try Self.admitWrapper(below: layers)
                layers.append(compression.rawValue)
                if compression == .xz, XzParallelRawReader.isEnabled, let head = try Self.decodedHead(xz: stream, count: FormatSniffer.headLength) {
                    // Raw or qcow2 inside: blocks decoded in parallel, each placed as it is decoded (no in-order queue).
                    switch FormatSniffer.detect(head: head) {
                    case .image(.raw):
                        layers.append("raw")
                        let reader = XzParallelRawReader(stream: stream, limit: request.requestedSize ?? .max,
                                                         reason: "the requested size")
                        decodedLimit = reader
                        return (reader, layers)
                    case .image(.qcow2):
                        if let header = try Self.qcow2Header(xz: stream, sniffed: head, name: name) {
                            layers.append("qcow2")
                            return (try XzParallelQcow2Reader(stream: stream, header: header, name: name,
                                                              scratchDirectory: request.scratchDirectory), layers)
                        }
                    default:
                        break
                    }
                }
                // Measured on raw images: the stage after the decoder is 14% of the CPU behind gzip, 32% behind zstd,
                // 3% behind xz; on a free core that much overlaps instead of adding up. Behind xz, whose threaded
                // decoder queues whole decoded blocks itself, four 256 KiB chunks are slack enough and keep the
                // import inside its 128 MiB RSS budget (see XzStream.defaultThreadingMemoryLimit).
                let chunkSize = compression == .xz ? 256 << 10 : 1 << 20
                stream = PeekableStream(try PrefetchingStream(try compression.decoder(for: stream), chunkSize: chunkSize, depth: 4))
                length = nil
            case .tar:
                try Self.admitWrapper(below: layers)
                layers.append("tar")
                let entry = try TarDiskEntry.open(stream)
                length = entry.expectedLength
                stream = PeekableStream(entry)
            case .unsupported(let name):
                throw DiskImportError.unsupported("unsupported format \(name)" + Self.inside(layers))
            case .image(.qcow2):
                let plain = layers.isEmpty && request.checksum == nil
                layers.append("qcow2")
                if plain, let file = localFile {
                    // A plain local qcow2: random access. Progress follows guest bytes, not the sniffing stream.
                    progress.setSourceTotal(0)
                    return (try Qcow2Reader(file: file, followBacking: request.followBacking), layers)
                }
                if plain, request.network.randomAccess, let url = httpURL,
                   let ranged = try HTTPRangeSource.open(client: HTTPClient(options: request.network), url: url) {
                    // By ranged reads of metadata and allocated clusters (--http-random-access). Streaming stays the
                    // default: see HTTPOptions.randomAccess for the measurement.
                    progress.setSourceTotal(0)
                    return (try Qcow2Reader(source: ranged), layers)
                }
                // Inside a wrapper or a tar entry, over HTTP, or with a checksum over every byte: read the qcow2 front
                // to back instead of decompressing it to scratch first.
                return (try Qcow2StreamReader(stream: stream, name: name, scratchDirectory: request.scratchDirectory), layers)
            case .image(.raw):
                layers.append("raw")
                guard length == nil else { return (RawStreamReader(stream: stream, virtualSize: length), layers) }
                let limited = SizeLimitedStream(stream, limit: request.requestedSize ?? .max, reason: "the requested size")
                decodedLimit = limited
                return (RawStreamReader(stream: limited, virtualSize: nil), layers)
            }
        }
    }

    /// Up to `count` decoded bytes of the .xz data next in `stream`, from up to 4 MiB of compressed bytes peeked (not
    /// consumed); fewer only when the data ends first. Nil when they do not decode (left to XzStream to report) or
    /// when 4 MiB do not decode to that many.
    static func decodedHead(xz stream: PeekableStream, count: Int) throws -> [UInt8]? {
        for peek in [64 << 10, 1 << 20, 4 << 20] {
            let compressed = try stream.peek(peek)
            guard let head = XzHead.decoded(from: compressed, count: count) else { return nil }
            if head.count == count || compressed.count < peek { return head }
        }
        return nil
    }

    /// The header of the qcow2 image inside the .xz data next in `stream`, from its decoded first cluster (`sniffed`, its
    /// decoded head, when that is long enough); nil when that cluster cannot be decoded from the bytes peeked (the image
    /// is then read through XzStream).
    static func qcow2Header(xz stream: PeekableStream, sniffed: [UInt8], name: String) throws -> Qcow2Header? {
        let want = sniffed.withUnsafeBytes { Qcow2Header.headLength(from: $0) }
        guard let head = want <= sniffed.count ? Array(sniffed[..<want]) : try decodedHead(xz: stream, count: want) else { return nil }
        return try head.withUnsafeBytes { try Qcow2Header(head: $0, fileLength: nil, name: name) }
    }

    /// The most guest bytes `target` holds, which bounds a decoder's output: a file's capacity under the space
    /// rules, a block device's size.
    private static func capacity(of target: DiskTarget) -> UInt64? {
        (target as? FileTarget)?.capacity ?? (target as? BlockDeviceTarget)?.deviceSize
    }

    /// Refuses one more wrapper when `layers` already holds the most a real file has.
    static func admitWrapper(below layers: [String]) throws {
        if layers.count >= maximumWrapperLayers {
            throw DiskImportError.unsupported("more than \(maximumWrapperLayers) nested compression or tar layers "
                + "(\(layers.joined(separator: ", ")), …): refusing a hostile stack")
        }
    }

    /// " inside xz inside gzip" for the layers peeled so far, innermost first; empty at the top.
    static func inside(_ layers: [String]) -> String {
        layers.isEmpty ? "" : " inside " + layers.reversed().joined(separator: " inside ")
    }
}

extension LocalFile {
    /// Up to `count` bytes from the start of the file, for sniffing without consuming a stream.
    func head(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try readFully(at: 0, into: $0) }
        return Array(bytes[..<n])
    }
}
