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

    public init(request: ConvertRequest, progress: TransferProgress = TransferProgress(), logger: Logger = Log.logger("import")) {
        self.request = request
        self.progress = progress
        phases = PhaseRunner(logger: logger)
    }

    public func run() throws -> ConvertResult {
        let start = MonotonicClock.now()
        let (reader, layers) = try phases.run(.info) { try openReader() }
        let size = reader.virtualSize ?? request.requestedSize ?? 0
        progress.setGuestTotal(size)
        let target = try FileTarget(path: request.target, size: size, progress: progress)
        let guestSize = try phases.run(.transfer) { try reader.convert(to: target, progress: progress) }
        try phases.run(.resize) {
            let finalSize = max(guestSize, request.requestedSize ?? 0)
            try target.resize(to: finalSize)
        }
        try phases.run(.complete) { try target.commit(sync: request.sync) }
        return ConvertResult(
            sourceFormat: layers.last ?? "raw", layers: layers, virtualSize: guestSize,
            bytesRead: progress.sourceBytes, bytesWritten: progress.writtenBytes, scratchBytes: 0,
            seconds: MonotonicClock.now() - start)
    }

    /// Sniffs the source layer by layer and returns the image reader and the layer names, outermost first.
    func openReader() throws -> (DiskImageReader, [String]) {
        if let length = request.blankLength { return (BlankDiskReader(length: length), ["blank"]) }
        guard case .file(let path) = SourceLocation(request.source) else {
            throw DiskImportError.unsupported("\(SourceLocation(request.source)): network sources are not supported yet")
        }
        let file = try LocalFile(path: path)
        var stream = PeekableStream(CountingStream(file.stream(), progress: progress))
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
            case .unsupported(let name):
                throw DiskImportError.unsupported("unsupported format \(name)")
            case .image(.qcow2):
                throw DiskImportError.unsupported("qcow2 is not supported yet")
            case .image(.raw):
                layers.append("raw")
                return (RawStreamReader(stream: stream, virtualSize: layers.count == 1 ? file.length : nil), layers)
            }
        }
    }
}
