import DiskImportCore

/// Turns what the streaming qcow2 reader finds into worker jobs: guest data copied into recycled buffers (one job
/// per full buffer; runs contiguous in the guest are one write), zero ranges coalesced, and compressed clusters
/// gathered into batches that a worker decompresses.
final class Qcow2StreamOutput: Qcow2GuestOutput {
    private let submit: (Qcow2TransferJob) throws -> Void
    private let name: String
    private let clusterSize: Int
    private let compressionType: Qcow2CompressionType

    static let jobOperations = 256

    private var operations: [Qcow2TransferOperation] = []
    private var zeroRun: (guest: UInt64, length: UInt64)?
    /// The buffer data runs are copied into, and how much of it they use.
    private var slab: (buffer: Qcow2OwnedBuffer, used: Int)?
    /// The data run being gathered: `count` bytes of `slab` from `offset`, for `guest`.
    private var run: (offset: Int, count: Int, guest: UInt64)?
    private var batch: (buffer: Qcow2OwnedBuffer, used: Int, items: [Qcow2CompressedBatch.Item])?
    /// Data buffers and compressed batches, both of `buffers.bufferSize` bytes.
    private let buffers: Qcow2BufferRecycler

    init(name: String, clusterSize: Int, compressionType: Qcow2CompressionType, submit: @escaping (Qcow2TransferJob) throws -> Void) {
        self.name = name
        self.clusterSize = clusterSize
        self.compressionType = compressionType
        self.submit = submit
        // A compressed cluster's descriptor covers at most two clusters, and a batch holds at least one.
        buffers = Qcow2BufferRecycler(bufferSize: max(512 << 10, 2 * clusterSize + 512))
    }

    /// Guest bytes at `guest`.
    func data(_ bytes: UnsafeRawBufferPointer, guest: UInt64) throws {
        var bytes = bytes, guest = guest
        while bytes.count > 0 {
            guard let current = slab, current.used < current.buffer.bytes.count else {
                // Full (or none yet): its runs go to a worker as one job, and the next bytes to a fresh buffer.
                try closeRun()
                try flushOperations()
                slab = (buffers.take(), 0)
                continue
            }
            if let open = run, open.guest + UInt64(open.count) == guest {
                let n = min(bytes.count, current.buffer.bytes.count - current.used)
                (current.buffer.bytes.baseAddress! + current.used).copyMemory(from: bytes.baseAddress!, byteCount: n)
                slab!.used += n
                run!.count += n
                bytes = UnsafeRawBufferPointer(rebasing: bytes[n...])
                guest += UInt64(n)
                continue
            }
            try closeRun()
            try flushZeros()
            run = (current.used, 0, guest)
        }
    }

    /// A guest range that reads as zeros.
    func zeros(guest: UInt64, length: UInt64) throws {
        guard length > 0 else { return }
        if let run = zeroRun, run.guest + run.length == guest {
            zeroRun!.length += length
            return
        }
        try flushZeros()
        zeroRun = (guest, length)
    }

    /// A compressed cluster of `length` bytes whose decompressed bytes `offsetInCluster..<offsetInCluster+wanted`
    /// go to `guest`. `fill` copies the compressed bytes into the space it is given.
    func compressed(length: Int, guest: UInt64, offsetInCluster: Int = 0, wanted: Int,
                    fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        if let current = batch, current.used + length > current.buffer.bytes.count || current.items.count >= 512 {
            try flushBatch()
        }
        if batch == nil { batch = (buffers.take(), 0, []) }
        let used = batch!.used
        try fill(UnsafeMutableRawBufferPointer(rebasing: batch!.buffer.bytes[used..<used + length]))
        batch!.items.append(.init(cluster: Qcow2CompressedCluster(hostOffset: UInt64(used), length: length),
                                  offsetInCluster: offsetInCluster, length: wanted, guest: guest))
        batch!.used += length
    }

    /// Hands over everything still gathered.
    func flush() throws {
        try closeRun()
        try flushZeros()
        try flushOperations()
        try flushBatch()
        slab = nil
    }

    private func closeRun() throws {
        guard let open = run, let current = slab else { return }
        run = nil
        if open.count > 0 { try append(.bytes(current.buffer, offset: open.offset, count: open.count, guest: open.guest)) }
    }

    private func flushZeros() throws {
        guard let zeros = zeroRun else { return }
        zeroRun = nil
        try append(.zeros(guest: zeros.guest, length: zeros.length))
    }

    /// A job ends with its buffer (see `data`) or after `jobOperations` operations, whichever comes first; the rest of
    /// a buffer whose earlier runs went with a job is still filled, as those runs are read only by their worker.
    private func append(_ operation: Qcow2TransferOperation) throws {
        operations.append(operation)
        if operations.count >= Self.jobOperations { try flushOperations() }
    }

    private func flushOperations() throws {
        guard !operations.isEmpty else { return }
        let job = Qcow2TransferJob.extents(operations)
        operations = []
        try submit(job)
    }

    private func flushBatch() throws {
        guard let current = batch else { return }
        batch = nil
        try submit(.compressed(Qcow2CompressedBatch(input: .memory(current.buffer), name: name, clusterSize: clusterSize,
                                                    type: compressionType, items: current.items)))
    }
}
