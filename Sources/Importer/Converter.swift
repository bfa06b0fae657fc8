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

    public init(request: ConvertRequest, progress: TransferProgress = TransferProgress(), logger: Logger = Log.logger("import")) {
        self.request = request
        self.progress = progress
        phases = PhaseRunner(logger: logger)
    }

    public func run() throws -> ConvertResult {
        let start = MonotonicClock.now()
        let (reader, layers, target) = try phases.run(.info) {
            let (reader, layers) = try openReader()
            progress.setGuestTotal(reader.virtualSize ?? request.requestedSize ?? 0)
            let options = TargetOptions(virtualSize: reader.virtualSize, requestedSize: request.requestedSize,
                                        overhead: request.filesystemOverhead, preallocation: request.preallocation)
            return (reader, layers, try TargetOpener.open(path: request.target, options: options, progress: progress))
        }
        do {
            let guestSize = try phases.run(.transfer) {
                let size = try reader.convert(to: target, progress: progress)
                try checksumStream?.verify()
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
    /// after it (the next decoder, or writing the target). Output of unknown length is bounded by the requested size.
    func openReader() throws -> (DiskImageReader, [String]) {
        if let length = request.blankLength { return (BlankDiskReader(length: length), ["blank"]) }
        var source: ByteStream
        let sourceLength: UInt64?
        var localFile: LocalFile?
        switch SourceLocation(request.source) {
        case .file(let path):
            let file = try LocalFile(path: path)
            localFile = file
            // A plain local raw file is read by its extents (shared, copied in the kernel, holes skipped), not streamed.
            if request.checksum == nil, FormatSniffer.detect(head: try file.head(FormatSniffer.headLength)) == .image(.raw) {
                return (RawFileReader(file: file), ["raw"])
            }
            source = file.stream()
            sourceLength = file.length
        case .http(let url):
            // Streamed: the download runs on its own thread, resumes dropped connections, and overlaps decoding.
            let body = try HTTPStream(client: HTTPClient(options: request.network), url: url)
            source = body
            sourceLength = body.expectedLength
        case .registry(let reference):
            throw DiskImportError.unsupported("docker://\(reference): registry sources are not supported yet")
        }
        if let checksum = request.checksum {
            let verifying = try ChecksumStream(source, expected: checksum)
            checksumStream = verifying
            source = verifying
        }
        var stream = PeekableStream(CountingStream(source, progress: progress))
        var layers: [String] = []
        /// The current layer's length when known (the file's size, a tar entry's size); nil after a decoder.
        var length: UInt64? = sourceLength
        while true {
            let detected = FormatSniffer.detect(head: try stream.peek(FormatSniffer.headLength))
            switch detected {
            case .compressed, .tar:
                if layers.count >= Self.maximumWrapperLayers {
                    throw DiskImportError.unsupported("more than \(Self.maximumWrapperLayers) nested compression or tar layers "
                        + "(\(layers.joined(separator: ", ")), …): refusing a hostile stack")
                }
            default:
                break
            }
            switch detected {
            case .compressed(let compression):
                layers.append(compression.rawValue)
                stream = PeekableStream(try PrefetchingStream(try compression.decoder(for: stream)))
                length = nil
            case .tar:
                layers.append("tar")
                let entry = try TarDiskEntry.open(stream)
                length = entry.expectedLength
                stream = PeekableStream(entry)
            case .unsupported(let name):
                throw DiskImportError.unsupported("unsupported format \(name)" + Self.inside(layers))
            case .image(.qcow2):
                if layers.isEmpty, let file = localFile {
                    // A plain local qcow2: random access. Progress follows guest bytes, not the sniffing stream.
                    progress.setSourceTotal(0)
                    return (try Qcow2Reader(file: file, followBacking: request.followBacking), ["qcow2"])
                }
                // Inside a wrapper, or over the network: read the qcow2 front to back instead of decompressing it to
                // scratch first. A backing file is refused there: nothing to resolve it against.
                layers.append("qcow2")
                return (try Qcow2StreamReader(stream: stream, name: SourceLocation(request.source).description,
                                              scratchDirectory: request.scratchDirectory), layers)
            case .image(.raw):
                layers.append("raw")
                var raw: ByteStream = stream
                if length == nil, let limit = decompressedLimit {
                    raw = SizeLimitedStream(stream, limit: limit)
                }
                return (RawStreamReader(stream: raw, virtualSize: length), layers)
            }
        }
    }

    /// The most bytes a decoder may produce: what the target may hold (the requested size). Without one, the target's
    /// own space bounds a decompression bomb.
    var decompressedLimit: UInt64? { request.requestedSize }

    /// " inside xz inside gzip" for the layers peeled so far, innermost first; empty at the top.
    private static func inside(_ layers: [String]) -> String {
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
