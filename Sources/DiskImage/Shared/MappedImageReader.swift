import DiskImportCore

/// Converts a chain of `MappedLayer`s read with random access (a local vhd or vdi and its parents, or one image over
/// ranged HTTP): the planner walks the block tables in guest order on this thread, and a few workers copy the runs
/// (in the kernel or by reflink for local files, through the sink) and write the zeros.
final class MappedImageReader: DiskImageReader {
    private let layers: [MappedLayer]
    let virtualSize: UInt64?
    private let threads: Int

    /// Data bytes per job: enough to keep a worker busy for a while, few enough that the queue stays small.
    static let jobBytes: UInt64 = 8 << 20
    /// Runs per job at most (a finely fragmented image has many short ones).
    static let jobRuns = 256

    /// `layers` top first; the top one's size is the image's.
    init(layers: [MappedLayer], threads: Int? = nil) {
        self.layers = layers
        virtualSize = layers[0].virtualSize
        self.threads = threads ?? WorkerPool<[TransferRun]>.defaultThreadCount
    }

    /// The data the chain's tables map over the guest range, less the holes of local image files.
    func allocatedData() throws -> AllocatedData? {
        var bytes: UInt64 = 0
        try MappedChainPlanner(layers: layers).plan(0..<layers[0].virtualSize) { run in
            if case .copy(_, _, _, let length) = run { bytes += length }
        }
        return AllocatedData(bytes: bytes, sourceFile: layers[0].source.localFile)
    }

    func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let size = layers[0].virtualSize
        let pool = try WorkerPool<[TransferRun]>(threads: threads, queueDepth: 2 * threads) {
            let worker = MappedRunWorker(sink: sink, progress: progress)
            return { runs in try worker.run(runs) }
        }
        do {
            var batch: [TransferRun] = []
            var batchBytes: UInt64 = 0
            try MappedChainPlanner(layers: layers).plan(0..<size) { run in
                for piece in Self.pieces(of: run) {
                    batch.append(piece)
                    if case .copy = piece { batchBytes += piece.length }
                    if batchBytes >= Self.jobBytes || batch.count >= Self.jobRuns {
                        try pool.submit(batch)
                        batch = []
                        batchBytes = 0
                    }
                }
            }
            if !batch.isEmpty { try pool.submit(batch) }
        } catch {
            pool.fail(error)
            try? pool.finish()
            throw error
        }
        try pool.finish()
        return size
    }

    /// A copy cut into `jobBytes` pieces, so that one long run (a fixed vhd, a static vdi) spreads over the workers.
    private static func pieces(of run: TransferRun) -> [TransferRun] {
        guard case .copy(let source, let host, let guest, let length) = run, length > jobBytes else { return [run] }
        return stride(from: UInt64(0), to: length, by: Int(jobBytes)).map { offset in
            .copy(source: source, host: host + offset, guest: guest + offset, length: min(jobBytes, length - offset))
        }
    }
}

/// Runs transfer jobs on one worker thread; keeps its buffer between jobs.
final class MappedRunWorker {
    private let sink: ExtentSink
    private let progress: TransferProgress
    private var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    static let bufferBytes = 1 << 20

    init(sink: ExtentSink, progress: TransferProgress) {
        self.sink = sink
        self.progress = progress
    }

    deinit { buffer.deallocate() }

    func run(_ runs: [TransferRun]) throws {
        for run in runs {
            switch run {
            case .zeros(let guest, let length):
                try sink.writeZeros(at: guest, length: length)
                progress.addGuestBytes(length)
            case .copy(let source, let host, let guest, let length):
                if let file = source.localFile {
                    try sink.copy(from: file, sourceOffset: host, to: guest, length: length)
                    progress.addSourceBytes(length)
                    progress.addGuestBytes(length)
                } else {
                    try read(source, host: host, guest: guest, length: length)
                }
            }
        }
    }

    /// A ranged source (HTTP): read into the buffer, written from it.
    private func read(_ source: RandomAccessSource, host: UInt64, guest: UInt64, length: UInt64) throws {
        if buffer.count == 0 { buffer = .allocate(byteCount: Self.bufferBytes, alignment: 4096) }
        var done: UInt64 = 0
        while done < length {
            let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(UInt64(buffer.count), length - done))])
            try source.readExactly(at: host + done, into: chunk, what: "image data")
            try sink.write(UnsafeRawBufferPointer(chunk), at: guest + done)
            done += UInt64(chunk.count)
            progress.addSourceBytes(UInt64(chunk.count))
            progress.addGuestBytes(UInt64(chunk.count))
        }
    }
}
