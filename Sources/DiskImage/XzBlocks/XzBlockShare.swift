import Codecs
import DiskImportCore

/// What one import's block-parallel decoding took from its memory budget, taken at its first block that can go
/// to the workers (so that later stages, such as the qcow2 reader's memory tier, get what is left) and given back
/// when it ends: compressed-block buffers up to `XzBlockParallelism.bufferBudget` and decoders up to `XzBlockParallelism.workerMemoryBudget`.
final class XzBlockShare {
    private let budget: MemoryBudget
    private(set) var bufferBytes = 0
    private(set) var threads = 0
    private var decoderBytes = 0
    private(set) var isTaken = false

    init(budget: MemoryBudget) { self.budget = budget }

    /// Takes the share for `wanted` workers on decoders needing `decoderMemory` and a `chunkSize` chunk each:
    /// at least one worker, and buffers for whatever is left up to `XzBlockParallelism.bufferBudget` (blocks larger than the buffers
    /// granted are decoded on the reader's thread, streaming).
    func take(threads wanted: Int, decoderMemory: UInt64, chunkSize: Int) {
        guard !isTaken else { return }
        isTaken = true
        let perWorker = Int(min(decoderMemory + UInt64(chunkSize), UInt64(XzBlockParallelism.workerMemoryBudget)))
        let wantedWorkers = XzBlockWorkers.count(threads: wanted, decoderMemory: decoderMemory, chunkSize: chunkSize,
                                                 memoryBudget: XzBlockParallelism.workerMemoryBudget)
        decoderBytes = budget.take(upTo: wantedWorkers * perWorker, atLeast: perWorker)
        threads = max(1, min(wantedWorkers, decoderBytes / max(1, perWorker)))
        bufferBytes = budget.take(upTo: XzBlockParallelism.bufferBudget)
    }

    /// Whether `block` goes to the workers: its header carries both sizes (`xz -T N`) and its compressed bytes
    /// fit the buffers granted. The first such block takes the share.
    func admits(_ block: XzBlock, threads wanted: Int, chunkSize: Int) -> Bool {
        guard block.uncompressedSize != nil, let size = block.dataSize, size <= UInt64(XzBlockParallelism.bufferBudget) else { return false }
        take(threads: wanted, decoderMemory: block.memoryUsage, chunkSize: chunkSize)
        return size <= UInt64(bufferBytes)
    }

    deinit { budget.giveBack(decoderBytes + bufferBytes) }
}
