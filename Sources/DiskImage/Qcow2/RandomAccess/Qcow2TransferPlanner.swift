import DiskImportCore

/// Walks the guest range of a backing chain in order and turns it into transfer jobs for a worker pool.
///
/// Unallocated ranges of an image are looked up in the image below it; ranges past an image's end read as zeros.
/// Extents are coalesced before they become jobs: zero ranges that touch merge into one, data ranges contiguous
/// both in the file and in the guest merge into one copy (this is what makes 512-byte-cluster images fast), and
/// compressed clusters that lie close together in the file are batched so one pread fetches them all.
final class Qcow2TransferPlanner {
    private let layers: [ChainLayer]
    private let submit: (Qcow2TransferJob) throws -> Void

    /// A copy op stops growing here, so that big runs still spread over the workers.
    static let maxRunBytes: UInt64 = 16 << 20
    /// A job of extents is handed over once it holds this many bytes or operations.
    static let jobBytes: UInt64 = 16 << 20
    static let jobOperations = 256
    /// Compressed batches: the file span one pread covers, and the gap worth reading through.
    static let batchSpanBytes: UInt64 = 2 << 20
    static let batchGapBytes: UInt64 = 64 << 10
    static let batchItems = 512

    private enum Run {
        case zeros(guest: UInt64, length: UInt64)
        case data(layer: Int, host: UInt64, guest: UInt64, length: UInt64)
    }

    private var run: Run?
    private var operations: [Qcow2TransferOperation] = []
    private var operationBytes: UInt64 = 0
    private var batch: Qcow2CompressedBatch?
    private var batchLayer = -1
    private var batchSpan: Range<UInt64> = 0..<0

    init(layers: [ChainLayer], submit: @escaping (Qcow2TransferJob) throws -> Void) {
        self.layers = layers
        self.submit = submit
    }

    /// Plans the whole guest range `0..<size` of the top image and hands over every job.
    func plan(size: UInt64) throws {
        try walk(0..<size, level: 0)
        try flushRun()
        try flushOperations()
        try flushBatch()
    }

    private func walk(_ range: Range<UInt64>, level: Int) throws {
        guard level < layers.count else { return try zeros(range) }
        let layer = layers[level]
        let end = min(range.upperBound, layer.guestSize)
        var position = range.lowerBound
        while position < end {
            let extent = try layer.extent(at: position, limit: end)
            let piece = position..<position + extent.length
            switch extent.content {
            case .unallocated:
                try walk(piece, level: level + 1)
            case .zero:
                try zeros(piece)
            case .data(let host):
                // Data past the end of the file reads as zeros (qemu zero-fills reads past the end).
                let inFile = host < layer.source.length ? min(extent.length, layer.source.length - host) : 0
                if inFile > 0 { try data(layer: level, host: host, guest: position, length: inFile) }
                if inFile < extent.length { try zeros(position + inFile..<piece.upperBound) }
            case .compressed(let cluster, let offsetInCluster):
                try compressed(layer: level, cluster: cluster, offsetInCluster: offsetInCluster, guest: position,
                               length: extent.length)
            }
            position = piece.upperBound
        }
        if position < range.upperBound { try zeros(max(position, range.lowerBound)..<range.upperBound) }
    }

    private func zeros(_ range: Range<UInt64>) throws {
        guard !range.isEmpty else { return }
        if case .zeros(let guest, let length)? = run, guest + length == range.lowerBound {
            run = .zeros(guest: guest, length: length + UInt64(range.count))
            return
        }
        try flushRun()
        run = .zeros(guest: range.lowerBound, length: UInt64(range.count))
    }

    private func data(layer: Int, host: UInt64, guest: UInt64, length: UInt64) throws {
        var host = host, guest = guest, length = length
        if case .data(let l, let h, let g, let n)? = run, l == layer, h + n == host, g + n == guest, n < Self.maxRunBytes {
            let take = min(length, Self.maxRunBytes - n)
            run = .data(layer: l, host: h, guest: g, length: n + take)
            (host, guest, length) = (host + take, guest + take, length - take)
        }
        while length > 0 {
            try flushRun()
            let take = min(length, Self.maxRunBytes)
            run = .data(layer: layer, host: host, guest: guest, length: take)
            (host, guest, length) = (host + take, guest + take, length - take)
        }
    }

    private func compressed(layer: Int, cluster: Qcow2CompressedCluster, offsetInCluster: UInt64, guest: UInt64,
                            length: UInt64) throws {
        let item = Qcow2CompressedBatch.Item(cluster: cluster, offsetInCluster: Int(offsetInCluster), length: Int(length),
                                             guest: guest)
        let start = cluster.hostOffset, end = start + UInt64(cluster.length)
        if var current = batch, batchLayer == layer, start >= batchSpan.lowerBound,
           start <= batchSpan.upperBound + Self.batchGapBytes, max(end, batchSpan.upperBound) - batchSpan.lowerBound <= Self.batchSpanBytes,
           current.items.count < Self.batchItems {
            batch = nil  // keep the items array uniquely referenced while appending
            current.items.append(item)
            batchSpan = batchSpan.lowerBound..<max(batchSpan.upperBound, end)
            batch = current
            return
        }
        try flushBatch()
        let source = layers[layer]
        batch = Qcow2CompressedBatch(input: .file(source.source, spanStart: start, spanEnd: end), name: source.source.displayName,
                                     clusterSize: source.clusterSize, type: source.compressionType, items: [item])
        batchSpan = start..<end
        batchLayer = layer
    }

    private func flushRun() throws {
        guard let current = run else { return }
        run = nil
        switch current {
        case .zeros(let guest, let length):
            operations.append(.zeros(guest: guest, length: length))
        case .data(let layer, let host, let guest, let length):
            operations.append(.data(source: layers[layer].source, host: host, guest: guest, length: length))
            operationBytes += length
        }
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
        guard var current = batch else { return }
        batch = nil
        batchLayer = -1
        if case .file(let source, _, _) = current.input {
            current.input = .file(source, spanStart: batchSpan.lowerBound, spanEnd: batchSpan.upperBound)
        }
        try submit(.compressed(current))
    }
}
