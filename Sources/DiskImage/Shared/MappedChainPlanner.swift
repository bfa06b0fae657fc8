import DiskImportCore

/// Turns a chain of `MappedLayer`s (top first) into the runs the transfer writes, in guest order: each layer's data
/// runs as copies from its file, zeros as zeros, and what a layer leaves to the one below resolved there (zeros below
/// the last). Adjacent runs are merged: copies that continue in the same file, and zeros.
///
/// Data of a local file is split by its holes (SEEK_DATA / SEEK_HOLE, `LocalDataExtents`), which go as zeros, and
/// data past the end of a file reads as zeros, as qemu's block layer reads it.
struct MappedChainPlanner {
    let layers: [MappedLayer]

    /// Calls `emit` with the runs that cover `range` of the top layer's guest range, in order.
    func plan(_ range: Range<UInt64>, emit: (TransferRun) throws -> Void) throws {
        try withoutActuallyEscaping(emit) { emit in
            var merger = RunMerger(emit: emit)
            try resolve(range, layer: 0, into: &merger)
            try merger.flush()
        }
    }

    private func resolve(_ range: Range<UInt64>, layer index: Int, into merger: inout RunMerger) throws {
        guard !range.isEmpty else { return }
        guard index < layers.count else { return try merger.add(.zeros(guest: range.lowerBound, length: UInt64(range.count))) }
        let layer = layers[index]
        let inside = range.clamped(to: 0..<layer.virtualSize)
        var guest = range.lowerBound
        if !inside.isEmpty {
            try layer.forEachRun(in: inside) { run in
                switch run {
                case .data(let host, let length):
                    try addData(of: layer.source, host: host, guest: guest, length: length, into: &merger)
                case .zeros(let length):
                    try merger.add(.zeros(guest: guest, length: length))
                case .below(let length):
                    try resolve(guest..<guest + length, layer: index + 1, into: &merger)
                }
                guest += run.length
            }
        }
        if guest < range.upperBound { try merger.add(.zeros(guest: guest, length: range.upperBound - guest)) }
    }

    private func addData(of source: RandomAccessSource, host: UInt64, guest: UInt64, length: UInt64,
                         into merger: inout RunMerger) throws {
        let inFile = host >= source.length ? 0 : min(length, source.length - host)
        if let file = source as? LocalFile, inFile > 0 {
            try LocalDataExtents.forEachPiece(of: host..<host + inFile, in: file.descriptor, path: file.path) { piece, isData in
                let at = guest + (piece.lowerBound - host)
                try merger.add(isData ? .copy(source: source, host: piece.lowerBound, guest: at, length: UInt64(piece.count))
                                      : .zeros(guest: at, length: UInt64(piece.count)))
            }
        } else if inFile > 0 {
            try merger.add(.copy(source: source, host: host, guest: guest, length: inFile))
        }
        if inFile < length { try merger.add(.zeros(guest: guest + inFile, length: length - inFile)) }
    }
}

/// Holds back the last run so the next one can extend it.
private struct RunMerger {
    let emit: (TransferRun) throws -> Void
    var pending: TransferRun?

    mutating func add(_ run: TransferRun) throws {
        guard run.length > 0 else { return }
        if let last = pending, let merged = Self.merge(last, run) {
            pending = merged
            return
        }
        if let last = pending { try emit(last) }
        pending = run
    }

    mutating func flush() throws {
        if let last = pending { try emit(last) }
        pending = nil
    }

    private static func merge(_ a: TransferRun, _ b: TransferRun) -> TransferRun? {
        switch (a, b) {
        case (.zeros(let guest, let length), .zeros(_, let more)):
            return .zeros(guest: guest, length: length + more)
        case (.copy(let source, let host, let guest, let length), .copy(let other, let nextHost, _, let more))
            where source === other && host + length == nextHost:
            return .copy(source: source, host: host, guest: guest, length: length + more)
        default:
            return nil
        }
    }
}
