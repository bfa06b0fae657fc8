import Codecs
import DiskImage
import DiskImportCore
import Fetch
import Logging
import Target

/// Plans and runs one import: open the source, peel its wrappers, choose the image reader, write the target.
public final class Converter {
    private let request: ConvertRequest
    private let progress: TransferProgress
    private let phases: PhaseRunner
    /// The source when the caller opened it (standard input, an upload's body, an object store); else
    /// `request.source` is opened.
    private let givenSource: (any OpenedSource)?
    /// The source being read; it verifies what only its end can tell (a registry layer's digest) before commit.
    private var source: (any OpenedSource)?
    /// Verifies `request.checksum` once the transfer has consumed the source.
    private var checksumStream: ChecksumStream?
    /// Bounds the raw bytes a decoder produces (a decompression bomb); tightened to the target's capacity once open.
    private var decodedLimit: (any DecodedSizeLimit)?

    /// - Parameter source: an already open source; nil opens `request.source` (a path, an http(s) URL, a docker://
    ///   reference).
    public init(request: ConvertRequest, source: (any OpenedSource)? = nil, progress: TransferProgress = TransferProgress(),
                logger: Logger = Log.logger("import")) {
        self.request = request
        givenSource = source
        self.progress = progress
        phases = PhaseRunner(logger: logger)
    }

    public func run() throws -> ConvertResult {
        let start = MonotonicClock.now()
        let (reader, layers, target) = try phases.run(.info) {
            let (reader, layers) = try openReader()
            progress.setGuestTotal(reader.virtualSize ?? request.requestedSize ?? 0)
            let options = TargetOptions(virtualSize: reader.virtualSize, allocatedData: try reader.allocatedData(),
                                        requestedSize: request.requestedSize,
                                        overhead: request.filesystemOverhead, preallocation: request.preallocation,
                                        durable: request.sync, references: request.references)
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
                try source?.verifyRest()   // before commit: a tampered layer never leaves a complete target
                return size
            }
            let outcome = try phases.run(.resize) { try target.finish(guestSize: guestSize) }
            try phases.run(.complete) { try target.commit(sync: request.sync) }
            return ConvertResult(
                sourceFormat: layers.last ?? "raw", layers: layers, virtualSize: guestSize,
                bytesRead: source?.storedBytesRead ?? progress.sourceBytes, bytesWritten: progress.writtenBytes, bytesCloned: progress.clonedBytes,
                bytesSharedWithReference: progress.sharedWithReferenceBytes,
                holeBytes: progress.holeBytes, scratchBytes: reader.scratchBytes, seconds: MonotonicClock.now() - start,
                targetKind: outcome.kind, targetLength: outcome.length, preallocation: outcome.preallocation)
        } catch {
            target.abort()
            throw error
        }
    }

    /// The image reader and the layer names, outermost first: open the source, then a plain local image by random
    /// access, else peel the layers and choose the reader for what is inside.
    func openReader() throws -> (DiskImageReader, [String]) {
        if let length = request.blankLength { return (BlankDiskReader(length: length), ["blank"]) }
        let source = try givenSource ?? SourceOpener.open(SourceLocation(request.source), network: request.network,
                                                          platform: request.platform, checksum: request.checksum != nil)
        self.source = source
        let chooser = ReaderChooser(request: request, source: source, progress: progress)
        if let plain = try chooser.plainLocalReader() {
            try Self.checkOvaDisk(request.ovaDisk, layers: plain.1, source: source.displayName)
            return plain
        }
        let stack = try layers(of: source)
        stack.ovaDisk = request.ovaDisk
        let (reader, layers) = try chooser.reader(peeling: stack)
        try Self.checkOvaDisk(request.ovaDisk, layers: layers, source: source.displayName)
        decodedLimit = reader.decodedSizeLimit
        return (reader, layers)
    }

    /// The source's bytes as a layer stack, counted for progress and checked against `request.checksum` as they pass.
    /// Every decoder runs on its own thread, so decompression overlaps with the stage after it.
    private func layers(of source: any OpenedSource) throws -> LayerStack {
        var stream = source.stream
        if let checksum = request.checksum {
            let verifying = try ChecksumStream(stream, expected: checksum)
            checksumStream = verifying
            stream = verifying
        }
        return LayerStack(CountingStream(stream, progress: progress), length: source.length, peeled: source.peeledLayers)
    }

    /// `--disk N` names a disk of an OVA: for any other source it is an error, not ignored.
    static func checkOvaDisk(_ disk: Int?, layers: [String], source: String) throws {
        if let disk, !layers.contains("ova") {
            throw DiskImportError.usage("--disk \(disk): \(source) is not an OVA (its layers: \(layers.joined(separator: ", ")))")
        }
    }

    /// The most guest bytes `target` holds, which bounds a decoder's output: a file's capacity under the space
    /// rules, a block device's size.
    private static func capacity(of target: DiskTarget) -> UInt64? {
        (target as? FileTarget)?.capacity ?? (target as? BlockDeviceTarget)?.deviceSize
    }
}
