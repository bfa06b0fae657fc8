import DiskImportCore

/// Converts a qcow2 image read with random access (a local file; later ranged HTTP), following its backing chain.
///
/// One thread walks the L1/L2 tables in guest order and plans jobs; a few worker threads copy data ranges
/// (copy_file_range through the sink for local files), decompress compressed clusters, and write zeros.
public final class Qcow2Reader: DiskImageReader {
    let layers: [ChainLayer]
    let top: Qcow2Image
    public let virtualSize: UInt64?
    private let threads: Int

    /// Opens the qcow2 image in `file` and, when `followBacking`, its backing chain; with `followBacking` false an
    /// image with a backing file is refused.
    public init(file: LocalFile, followBacking: Bool, threads: Int? = nil) throws {
        top = try Qcow2Image(source: file)
        layers = try Qcow2BackingChain.open(top: top, file: file, followBacking: followBacking)
        virtualSize = top.guestSize
        self.threads = threads ?? WorkerPool<Qcow2TransferJob>.defaultThreadCount
    }

    /// Opens the qcow2 image in any random-access source (a ranged HTTP resource, …). Backing files are only
    /// followed for local files, so an image with one is refused.
    public init(source: RandomAccessSource, threads: Int? = nil) throws {
        top = try Qcow2Image(source: source)
        if let name = top.header.extensions.backingFileName, !name.isEmpty {
            throw DiskImportError.unsupported("\(source.displayName) has a backing file (\(name)); backing files are only followed for local images")
        }
        layers = [top]
        virtualSize = top.guestSize
        self.threads = threads ?? WorkerPool<Qcow2TransferJob>.defaultThreadCount
    }

    /// The top image's header.
    public var header: Qcow2Header { top.header }

    /// The data clusters of the chain over the guest range (compressed ones at their guest size), found by walking
    /// the tables as the transfer will; parts of them that are holes of a local image file hold no data.
    public func allocatedData() throws -> AllocatedData? {
        AllocatedData(bytes: try Qcow2DataMeasure(layers: layers).dataBytes(in: 0..<top.guestSize),
                      sourceFile: top.source.localFile)
    }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        for case let image as Qcow2Image in layers { image.progress = progress }
        let size = top.guestSize
        let pool = try WorkerPool<Qcow2TransferJob>(threads: threads, queueDepth: 2 * threads) {
            let worker = Qcow2TransferWorker(sink: sink, progress: progress)
            return { job in try worker.run(job) }
        }
        let planner = Qcow2TransferPlanner(layers: layers) { try pool.submit($0) }
        do {
            try planner.plan(size: size)
        } catch {
            pool.fail(error)
            try? pool.finish()
            throw error
        }
        try pool.finish()
        return size
    }
}
