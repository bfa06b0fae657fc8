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

    /// Sniffs the source layer by layer and returns the image reader and the layer names, outermost first.
    func openReader() throws -> (DiskImageReader, [String]) {
        var source: ByteStream
        let sourceLength: UInt64?
        /// A local file, which a plain qcow2 is read from by random access.
        var localFile: LocalFile?
        /// How messages name the source (never with credentials).
        let name: String
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
            name = DisplayURL.redacted(url)
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
        while true {
            switch FormatSniffer.detect(head: try stream.peek(FormatSniffer.headLength)) {
            case .compressed(.gzip):
                layers.append("gzip")
                stream = PeekableStream(try GzipStream(stream))
            case .compressed(let other):
                throw DiskImportError.unsupported("\(other.rawValue) decompression is not supported yet")
            case .tar:
                throw DiskImportError.unsupported("tar archives are not supported yet")
            case .unsupported(let format):
                throw DiskImportError.unsupported("unsupported format \(format)")
            case .image(.qcow2):
                layers.append("qcow2")
                if layers.count == 1, let file = localFile {
                    // A plain local qcow2: random access. Progress follows guest bytes, not the sniffing stream.
                    progress.setSourceTotal(0)
                    return (try Qcow2Reader(file: file, followBacking: request.followBacking), layers)
                }
                // Inside a wrapper or over the network: read the qcow2 front to back instead of spooling it to
                // scratch first.
                return (try Qcow2StreamReader(stream: stream, name: name, scratchDirectory: request.scratchDirectory), layers)
            case .image(.raw):
                layers.append("raw")
                return (RawStreamReader(stream: stream, virtualSize: layers.count == 1 ? sourceLength : nil), layers)
            }
        }
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
