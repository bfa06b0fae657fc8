import DiskImportCore

/// Walks the guest range of a vmdk chain in order and turns it into transfer jobs: unallocated ranges are read from
/// the parent (past its end: zeros), touching zero ranges merge, data ranges contiguous in the file and in the guest
/// merge into one copy, and compressed grains close together in the file share one pread.
final class VmdkTransferPlanner {
    private let layers: [VmdkImage]
    private let submit: (VmdkTransferJob) throws -> Void
    private var parentChecked: Set<Int> = []

    static let maxRunBytes: UInt64 = 16 << 20
    static let jobBytes: UInt64 = 16 << 20
    static let jobOperations = 256
    static let batchSpanBytes: UInt64 = 2 << 20
    static let batchGapBytes: UInt64 = 64 << 10

    private var run: VmdkTransferOperation?
    private var operations: [VmdkTransferOperation] = []
    private var operationBytes: UInt64 = 0
    private var batch: VmdkGrainBatch?

    init(layers: [VmdkImage], submit: @escaping (VmdkTransferJob) throws -> Void) {
        self.layers = layers
        self.submit = submit
    }

    /// Plans the whole guest range of the top image and hands over every job.
    func plan() throws {
        for layer in layers { layer.restart() }
        try walk(0..<layers[0].virtualSize, level: 0)
        try flushRun()
        try flushOperations()
        try flushBatch()
    }

    private func walk(_ range: Range<UInt64>, level: Int) throws {
        guard level < layers.count else { return try zeros(range) }
        let image = layers[level]
        let end = min(range.upperBound, image.virtualSize)
        var position = range.lowerBound
        var hint = 0
        while position < end {
            hint = image.extentIndex(at: position, from: hint)
            let extent = image.extents[hint]
            let limit = min(end, extent.start + extent.length) - extent.start
            let (length, content) = try extent.content(at: position - extent.start, limit: limit)
            let piece = position..<position + length
            switch content {
            case .unallocated:
                if level + 1 < layers.count, parentChecked.insert(level).inserted {
                    try VmdkChain.checkCID(child: image, parent: layers[level + 1])
                }
                try walk(piece, level: level + 1)
            case .zero:
                try zeros(piece)
            case .data(let source, let host):
                // Data past the end of the file reads as zeros (qemu zero-fills reads past the end).
                let inFile = host < source.source.length ? min(length, source.source.length - host) : 0
                if inFile > 0 { try data(source, host: host, guest: position, length: inFile) }
                if inFile < length { try zeros(position + inFile..<piece.upperBound) }
            case .compressed(let source, let host, let offsetInGrain, let grainBytes, let hasMarker):
                try compressed(source, host: host, offsetInGrain: offsetInGrain, grainBytes: grainBytes, hasMarker: hasMarker,
                               guest: position, length: length)
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

    private func data(_ source: VmdkSourceBox, host: UInt64, guest: UInt64, length: UInt64) throws {
        var host = host, guest = guest, length = length
        if case .data(let s, let h, let g, let n)? = run, s == source, h + n == host, g + n == guest, n < Self.maxRunBytes {
            let take = min(length, Self.maxRunBytes - n)
            run = .data(source: s, host: h, guest: g, length: n + take)
            (host, guest, length) = (host + take, guest + take, length - take)
        }
        while length > 0 {
            try flushRun()
            let take = min(length, Self.maxRunBytes)
            run = .data(source: source, host: host, guest: guest, length: take)
            (host, guest, length) = (host + take, guest + take, length - take)
        }
    }

    private func compressed(_ source: VmdkSourceBox, host: UInt64, offsetInGrain: UInt64, grainBytes: UInt64, hasMarker: Bool,
                            guest: UInt64, length: UInt64) throws {
        let item = VmdkGrainBatch.Item(host: host, offsetInGrain: Int(offsetInGrain), length: Int(length), guest: guest)
        // qemu reads two grains from the marker: a grain's data never reaches further.
        let end = host + 2 * grainBytes
        if var current = batch, current.source == source, current.grainBytes == grainBytes, host >= current.span.lowerBound,
           host <= current.span.upperBound + Self.batchGapBytes, max(end, current.span.upperBound) - current.span.lowerBound <= Self.batchSpanBytes {
            batch = nil
            current.items.append(item)
            current.span = current.span.lowerBound..<max(current.span.upperBound, end)
            batch = current
            return
        }
        try flushBatch()
        batch = VmdkGrainBatch(source: source, span: host..<end, grainBytes: grainBytes, hasMarkers: hasMarker, items: [item])
    }

    private func flushRun() throws {
        guard let current = run else { return }
        run = nil
        operations.append(current)
        if case .data(_, _, _, let length) = current { operationBytes += length }
        if operationBytes >= Self.jobBytes || operations.count >= Self.jobOperations { try flushOperations() }
    }

    private func flushOperations() throws {
        guard !operations.isEmpty else { return }
        let job = VmdkTransferJob.extents(operations)
        operations = []
        operationBytes = 0
        try submit(job)
    }

    private func flushBatch() throws {
        guard let current = batch else { return }
        batch = nil
        try submit(.grains(current))
    }
}
