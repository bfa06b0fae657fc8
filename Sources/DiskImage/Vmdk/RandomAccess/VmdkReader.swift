import DiskImportCore

/// Converts a vmdk image read with random access: a local image with its extents and parents, or one sparse file
/// from any random-access source. One thread walks the grain tables in guest order (`VmdkTransferPlanner`); worker
/// threads copy data (copy_file_range or a reflink through the sink for local files), inflate compressed grains on
/// every core, and write zeros.
public final class VmdkReader: DiskImageReader {
    let layers: [VmdkImage]
    public let virtualSize: UInt64?
    private let threads: Int

    /// Opens the vmdk image in `file` with its extents and, when `followBacking`, its parents.
    public init(file: LocalFile, followBacking: Bool, threads: Int? = nil) throws {
        layers = try VmdkChain.open(file, followBacking: followBacking)
        virtualSize = layers[0].virtualSize
        self.threads = threads ?? WorkerPool<VmdkTransferJob>.defaultThreadCount
    }

    /// Opens a single-file vmdk in any random-access source; extents and parents are refused (CDI's words for a
    /// parent: pkg/image/qemu.go checkIfURLIsValid).
    public init(source: RandomAccessSource, threads: Int? = nil) throws {
        let image = try VmdkImage(file: source, followExtents: false)
        if let parent = image.parentHint {
            throw DiskImportError.unsupported("Image \(source.displayName) is invalid because it has backing file \(parent)")
        }
        layers = [image]
        virtualSize = image.virtualSize
        self.threads = threads ?? WorkerPool<VmdkTransferJob>.defaultThreadCount
    }

    /// The paths of the parents, nearest first.
    public var parents: [String] { layers.dropFirst().map(\.path) }

    /// The guest data the transfer will store, found by walking the tables as the transfer will (which also finds
    /// a damaged table before the target is touched); the source file is named when all of it lies in one
    /// uncompressed file, so a target on the same filesystem may share it.
    public func allocatedData() throws -> AllocatedData? {
        var bytes: UInt64 = 0
        var files: Set<ObjectIdentifier> = []
        var compressed = false
        var sourceFile: RandomAccessSource?
        try VmdkTransferPlanner(layers: layers) { job in
            switch job {
            case .extents(let operations):
                for case .data(let source, _, _, let length) in operations {
                    bytes += length
                    files.insert(ObjectIdentifier(source.source))
                    sourceFile = source.source
                }
            case .grains(let batch):
                compressed = true
                bytes += batch.items.reduce(0) { $0 + UInt64($1.length) }
            case .streamedGrains: break
            }
        }.plan()
        return AllocatedData(bytes: bytes, sourceFile: !compressed && files.count == 1 ? sourceFile?.localFile : nil)
    }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let name = layers[0].path
        let pool = try WorkerPool<VmdkTransferJob>(threads: threads, queueDepth: 2 * threads) {
            let worker = VmdkTransferWorker(sink: sink, progress: progress, name: name)
            return { job in try worker.run(job) }
        }
        do {
            try VmdkTransferPlanner(layers: layers) { try pool.submit($0) }.plan()
        } catch {
            pool.fail(error)
            try? pool.finish()
            throw error
        }
        try pool.finish()
        return layers[0].virtualSize
    }
}
