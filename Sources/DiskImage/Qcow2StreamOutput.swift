import DiskImportCore

/// Turns what the streaming qcow2 reader finds into worker jobs: guest data copied into owned buffers (runs that
/// are contiguous in the guest share one buffer and one write), zero ranges coalesced, and compressed clusters
/// gathered into batches that a worker decompresses.
final class Qcow2StreamOutput {
    private let submit: (Qcow2TransferJob) throws -> Void
    private let name: String
    private let clusterSize: Int
    private let compressionType: Qcow2CompressionType

    static let dataBufferBytes = 2 << 20
    static let jobBytes = 4 << 20
    static let jobOperations = 256

    private var operations: [Qcow2TransferOperation] = []
    private var operationBytes = 0
    private var zeroRun: (guest: UInt64, length: UInt64)?
    private var data: (buffer: Qcow2OwnedBuffer, count: Int, guest: UInt64)?
    private var batch: (buffer: Qcow2OwnedBuffer, used: Int, items: [Qcow2CompressedBatch.Item])?
    private let batchBytes: Int

    init(name: String, clusterSize: Int, compressionType: Qcow2CompressionType, submit: @escaping (Qcow2TransferJob) throws -> Void) {
        self.name = name
        self.clusterSize = clusterSize
        self.compressionType = compressionType
        self.submit = submit
        // A compressed cluster's descriptor covers at most two clusters.
        batchBytes = max(2 << 20, 2 * clusterSize + 512)
    }

    /// Guest bytes at `guest`.
    func data(_ bytes: UnsafeRawBufferPointer, guest: UInt64) throws {
        var bytes = bytes, guest = guest
        while bytes.count > 0 {
            if let current = data, current.guest + UInt64(current.count) == guest, current.count < Self.dataBufferBytes {
                let n = min(bytes.count, Self.dataBufferBytes - current.count)
                (current.buffer.bytes.baseAddress! + current.count).copyMemory(from: bytes.baseAddress!, byteCount: n)
                data!.count += n
                bytes = UnsafeRawBufferPointer(rebasing: bytes[n...])
                guest += UInt64(n)
                continue
            }
            try flushData()
            try flushZeros()
            data = (Qcow2OwnedBuffer(capacity: Self.dataBufferBytes), 0, guest)
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
        if batch == nil { batch = (Qcow2OwnedBuffer(capacity: batchBytes), 0, []) }
        let used = batch!.used
        try fill(UnsafeMutableRawBufferPointer(rebasing: batch!.buffer.bytes[used..<used + length]))
        batch!.items.append(.init(cluster: Qcow2CompressedCluster(hostOffset: UInt64(used), length: length),
                                  offsetInCluster: offsetInCluster, length: wanted, guest: guest))
        batch!.used += length
    }

    /// Hands over everything still gathered.
    func flush() throws {
        try flushData()
        try flushZeros()
        try flushOperations()
        try flushBatch()
    }

    private func flushData() throws {
        guard let current = data else { return }
        data = nil
        try append(.bytes(current.buffer, count: current.count, guest: current.guest), bytes: current.count)
    }

    private func flushZeros() throws {
        guard let run = zeroRun else { return }
        zeroRun = nil
        try append(.zeros(guest: run.guest, length: run.length), bytes: 0)
    }

    private func append(_ operation: Qcow2TransferOperation, bytes: Int) throws {
        operations.append(operation)
        operationBytes += bytes
        if operationBytes >= Self.jobBytes || operations.count >= Self.jobOperations { try flushOperations() }
    }

    private func flushOperations() throws {
        guard !operations.isEmpty else { return }
        let job = Qcow2TransferJob.extents(operations)
        operations = []
        operationBytes = 0
        try submit(job)
    }

    private func flushBatch() throws {
        guard let current = batch else { return }
        batch = nil
        try submit(.compressed(Qcow2CompressedBatch(input: .memory(current.buffer), name: name, clusterSize: clusterSize,
                                                    type: compressionType, items: current.items)))
    }
}
