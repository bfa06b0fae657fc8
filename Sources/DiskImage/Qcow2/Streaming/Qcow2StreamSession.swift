import DiskImportCore

/// One front-to-back pass of the streaming qcow2 reader (see `Qcow2StreamReader`).
///
/// `processed` is the image offset up to which every cluster has been looked at. A mapping learnt for something
/// at or past it is remembered in the map until the stream gets there; one for something behind it is served
/// from the window (still in memory) or the scratch file, or fails with "scratch space required".
/// Every guest range ends up written exactly once: as data, or as zeros (unallocated and zero clusters, and
/// anything mapped past the end of the image, which qemu reads as zeros).
///
/// One thread at a time uses it: the reader's, or in turn the xz block workers' (`Qcow2StreamCoordinator`).
final class Qcow2StreamSession: @unchecked Sendable {
    private let layout: Qcow2StreamLayout
    private let window: Qcow2StreamWindow
    private let scratch: Qcow2StreamScratch
    /// Clusters the stream passed while compressed clusters were being read through them, in memory only: their
    /// bytes past the compressed data are usually the start of further compressed clusters, which a table arriving
    /// a little later may map (qemu-img packs compressed clusters without regard to cluster boundaries).
    private let recentCompressed: Qcow2StreamScratch
    private let output: Qcow2StreamOutput
    private let shared: Qcow2StreamCoordinator

    private var processed: UInt64 = 0
    private var l1Seen = 0
    private var active: [Active] = []
    /// One cluster each: an L2 table that must be zero-filled or fetched from behind the stream, and a data
    /// cluster fetched from behind the stream while that table is being read.
    private let table: UnsafeMutableRawBufferPointer
    private let dataCluster: UnsafeMutableRawBufferPointer

    private var name: String { layout.name }
    private var clusterSize: UInt64 { layout.clusterSize }

    /// A compressed cluster whose bytes the stream is passing. `prefix` holds the bytes before `resume` when they
    /// came from behind the stream; otherwise `resume` is its start and the window keeps everything from there.
    private struct Active {
        var target: Qcow2StreamMap.CompressedTarget
        var prefix: Qcow2OwnedBuffer?
        var resume: UInt64
    }

    /// `shared` holds the map; other threads may place clusters ahead of the session through it (`skip(to:)`).
    init(header: Qcow2Header, name: String, scratch: Qcow2StreamScratch, shared: Qcow2StreamCoordinator,
         submit: @escaping (Qcow2TransferJob) throws -> Void) throws {
        layout = Qcow2StreamLayout(header: header, name: name)
        self.scratch = scratch
        self.shared = shared
        let clusterSize = Int(header.clusterSize)
        recentCompressed = try Qcow2StreamScratch(directory: nil, clusterSize: clusterSize, memoryBytes: Self.recentCompressedBytes)
        let chunk = max(1 << 20, clusterSize)
        // Kept behind the newest chunk: at most an unfinished compressed cluster (two clusters plus a sector) and a
        // cluster not complete yet.
        window = Qcow2StreamWindow(chunkSize: chunk, retainable: 3 * clusterSize + 4096)
        output = Qcow2StreamOutput(name: name, clusterSize: clusterSize, compressionType: header.compressionType, submit: submit)
        table = .allocate(byteCount: clusterSize, alignment: 64)
        dataCluster = .allocate(byteCount: clusterSize, alignment: 64)
    }

    deinit {
        table.deallocate()
        dataCluster.deallocate()
    }

    static let recentCompressedBytes = 4 << 20

    /// Reads the whole image from `stream` and finishes.
    func run(_ stream: ByteStream) throws {
        while true {
            let range = try window.advance(keeping: keepFrom) { try stream.readFully(into: $0) }
            try processWholeClusters()
            if range.count < window.chunkSize { break }
        }
        try finish()
    }

    /// Takes the image bytes at `offset`, which must be where the bytes so far end.
    func feed(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        precondition(offset == window.end, "qcow2 stream: bytes at \(offset) fed at \(window.end)")
        var rest = bytes
        while !rest.isEmpty {
            let range = try window.advance(keeping: keepFrom) { space in
                let n = min(space.count, rest.count)
                space.baseAddress!.copyMemory(from: rest.baseAddress!, byteCount: n)
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                return n
            }
            precondition(!range.isEmpty)
            try processWholeClusters()
        }
    }

    /// Moves past image bytes up to `offset` that another thread placed (plain clusters whose mapping it took from
    /// the map, L2 tables it read, refcount blocks). Anything mapped there since is a second reference to a cluster
    /// already gone: refused, never placed from the wrong bytes.
    func skip(to offset: UInt64) throws {
        guard offset > window.end else { return }
        guard window.end == processed, offset % clusterSize == 0 else {
            throw DiskImportError.corrupt("\(name): qcow2 stream: a cluster was placed out of turn at 0x\(String(processed, radix: 16))")
        }
        if let item = active.first(where: { $0.target.end > processed }) {
            throw DiskImportError.corrupt("\(name): qcow2: the compressed cluster at 0x\(String(item.target.cluster.hostOffset, radix: 16)) overlaps a cluster holding other data")
        }
        let stale: UInt64? = shared.withMap { map, _ in
            var host = processed
            while host < offset {
                if map.mapsAnything(at: host, clusterIndex: host >> UInt64(layout.clusterBits)) { return host }
                host += clusterSize
            }
            return nil
        }
        if let stale {
            throw DiskImportError.unsupported("\(name): qcow2: the cluster at host offset 0x\(String(stale, radix: 16)) is mapped again after it was written (a cluster shared by two tables); convert the decompressed image instead")
        }
        active = []
        processed = offset
        window.restart(at: offset)
    }

    /// The image has ended: places what is left and hands over every job.
    func finish() throws {
        if processed < window.end {
            let count = window.end - processed
            processed = window.end
            try processCluster(at: window.end - count, count: Int(count))
            try completeActive()
        }
        try finishMappings()
        try output.flush()
    }

    /// The window keeps what the unfinished compressed clusters and the next cluster still need.
    private var keepFrom: UInt64 { active.reduce(processed) { min($0, $1.resume) } }

    private func processWholeClusters() throws {
        while window.end - processed >= clusterSize {
            let host = processed
            processed += clusterSize
            try processCluster(at: host, count: Int(clusterSize))
            try completeActive()
        }
    }

    // MARK: - One cluster of the stream

    private func processCluster(at host: UInt64, count: Int) throws {
        let bytes = window.bytes(host..<host + UInt64(count))
        let range = host..<host + UInt64(count)
        var known = host < clusterSize  // the header
        if range.overlaps(layout.l1Range) {
            known = true
            try parseL1(range.clamped(to: layout.l1Range))
        }
        if range.overlaps(layout.refcountTableRange) {
            known = true
            let part = range.clamped(to: layout.refcountTableRange)
            shared.withMap { map, _ in
                var offset = part.lowerBound
                while offset + 8 <= part.upperBound {
                    let entry = UInt64(bigEndian: window.bytes(offset..<offset + 8).loadUnaligned(as: UInt64.self)) & ~511
                    if entry != 0 { map.refcountBlocks.insert(entry) }
                    offset += 8
                }
            }
        }
        let (isRefcountBlock, l1Indices, plain, compressed) = shared.withMap { map, _ in
            let plain = map.takePlain(at: host).map { [$0] + map.takeExtraPlain(at: host) } ?? []
            return (!map.refcountBlocks.isEmpty && map.refcountBlocks.contains(host), map.takeL2(at: host), plain,
                    map.takeCompressed(startingInCluster: host >> UInt64(layout.clusterBits)))
        }
        if isRefcountBlock { known = true }
        if !l1Indices.isEmpty {
            known = true
            let entries = zeroFilledCluster(bytes)
            for index in l1Indices { try parseL2(entries, l1Index: index, tableOffset: host) }
            shared.mapChanged()
        }
        for target in plain {
            known = true
            try layout.writePlain(target, bytes, to: output)
        }
        for target in compressed {
            active.append(Active(target: target, prefix: nil, resume: target.cluster.hostOffset))
        }
        // Anything else may be referenced by a table further on: keep it. A cluster covered by compressed clusters
        // being read is kept for a while in memory only; should a table point into one (a compressed cluster starting
        // in the shared last sector of another) after it is dropped, the fetch fails loudly, never with wrong bytes.
        if !known {
            if coveredByActive(range) { try recentCompressed.keep(bytes, host: host) } else { try scratch.keep(bytes, host: host) }
        }
    }

    private func parseL1(_ part: Range<UInt64>) throws {
        defer { shared.mapChanged() }
        var offset = part.lowerBound
        while offset < part.upperBound {
            let index = Int((offset - layout.l1Range.lowerBound) / 8)
            var raw: UInt64 = 0
            let available = window.bytes(offset..<min(offset + 8, part.upperBound))
            for byte in available { raw = raw << 8 | UInt64(byte) }
            raw <<= UInt64(8 * (8 - available.count))  // an entry cut by the end of the file ends in zeros
            offset += 8
            l1Seen = index + 1
            let guest = UInt64(index) * layout.bytesPerL1Entry
            guard guest < layout.guestSize else { continue }
            let l2Offset = raw & Qcow2EntryDecoder.offsetMask
            if l2Offset == 0 {
                try output.zeros(guest: guest, length: min(layout.bytesPerL1Entry, layout.guestSize - guest))
            } else if l2Offset & (clusterSize - 1) != 0 {
                throw DiskImportError.corrupt("\(name): qcow2: L2 table offset 0x\(String(l2Offset, radix: 16)) (L1 index \(index)) is not aligned to the cluster size")
            } else if l2Offset >= processed {
                try shared.withMap { map, _ in try map.addL2(at: l2Offset, l1Index: index) }
            } else {
                try fetch(l2Offset..<l2Offset + clusterSize, into: table, what: "L2 table")
                try parseL2(UnsafeRawBufferPointer(table), l1Index: index, tableOffset: l2Offset)
            }
        }
    }

    private func parseL2(_ entries: UnsafeRawBufferPointer, l1Index: Int, tableOffset: UInt64) throws {
        try layout.forEachEntry(of: entries, l1Index: l1Index, tableOffset: tableOffset) { entry in
            switch entry {
            case .zeros(let guest, let length): try output.zeros(guest: guest, length: length)
            case .plain(let target, let host): try place(target, host: host)
            case .compressed(let target): try place(target)
            }
        }
    }

    // MARK: - Placing data

    private func place(_ target: Qcow2StreamMap.PlainTarget, host: UInt64) throws {
        if host >= processed { return try shared.withMap { map, _ in try map.addPlain(at: host, target) } }
        try fetch(host..<host + clusterSize, into: dataCluster, what: "data cluster")
        try layout.writePlain(target, UnsafeRawBufferPointer(dataCluster), to: output)
    }

    private func place(_ target: Qcow2StreamMap.CompressedTarget) throws {
        let start = target.cluster.hostOffset
        if start >= processed { return try shared.withMap { map, _ in try map.addCompressed(target, clusterBits: layout.clusterBits) } }
        let prefix = Qcow2OwnedBuffer(capacity: target.cluster.length)
        let have = min(target.end, processed)
        try fetch(start..<have, into: UnsafeMutableRawBufferPointer(rebasing: prefix.bytes[..<Int(have - start)]), what: "compressed cluster")
        let item = Active(target: target, prefix: prefix, resume: have)
        if target.end <= processed { try emit(item) } else { active.append(item) }
    }

    // MARK: - Compressed clusters

    private func completeActive() throws {
        guard active.contains(where: { $0.target.end <= processed }) else { return }
        var waiting: [Active] = []
        for item in active {
            if item.target.end <= processed { try emit(item) } else { waiting.append(item) }
        }
        active = waiting
    }

    /// Hands a compressed cluster to a worker; bytes past the end of the stream are zeros (as qemu reads them).
    private func emit(_ item: Active) throws {
        let start = item.target.cluster.hostOffset
        try output.compressed(length: item.target.cluster.length, guest: item.target.guest, wanted: item.target.length) { destination in
            var filled = 0
            if let prefix = item.prefix {
                filled = Int(item.resume - start)
                destination.baseAddress!.copyMemory(from: prefix.bytes.baseAddress!, byteCount: filled)
            }
            let to = min(item.target.end, window.end)
            if item.resume < to {
                let bytes = window.bytes(item.resume..<to)
                (destination.baseAddress! + filled).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                filled += bytes.count
            }
            if filled < destination.count {
                UnsafeMutableRawBufferPointer(rebasing: destination[filled...]).initializeMemory(as: UInt8.self, repeating: 0)
            }
        }
    }

    private func coveredByActive(_ range: Range<UInt64>) -> Bool {
        guard !active.isEmpty else { return false }
        var position = range.lowerBound
        var advanced = true
        while advanced && position < range.upperBound {
            advanced = false
            for item in active where item.target.cluster.hostOffset <= position && item.target.end > position {
                position = item.target.end
                advanced = true
            }
        }
        return position >= range.upperBound
    }

    // MARK: - Behind the stream, and the end

    /// Copies image bytes `range` that the stream has passed: from the window, else from the scratch file.
    /// Bytes past the end of the image read as zeros.
    private func fetch(_ range: Range<UInt64>, into destination: UnsafeMutableRawBufferPointer, what: String) throws {
        let available = min(range.upperBound, processed)
        var position = range.lowerBound
        if position < window.start {
            let part = position..<min(available, window.start)
            let target = UnsafeMutableRawBufferPointer(rebasing: destination[..<part.count])
            guard try readKept(part, into: target) else {
                if scratch.isAvailable {
                    throw DiskImportError.corrupt("\(name): qcow2: the \(what) at 0x\(String(range.lowerBound, radix: 16)) lies in a cluster the stream passed as metadata")
                }
                throw DiskImportError(.scratchRequired, "scratch space required: \(name): the qcow2 \(what) at host offset 0x\(String(range.lowerBound, radix: 16)) comes before the table that maps it in the stream; give a scratch directory (--scratch DIR)")
            }
            position = part.upperBound
        }
        if position < available {
            let bytes = window.bytes(position..<available)
            (destination.baseAddress! + Int(position - range.lowerBound)).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        let filled = Int(max(available, range.lowerBound) - range.lowerBound)
        if filled < range.count {
            UnsafeMutableRawBufferPointer(rebasing: destination[filled..<range.count]).initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    /// Reads image bytes `range` back from the clusters kept in scratch or among the recent compressed ones; false
    /// when some of them were not kept.
    private func readKept(_ range: Range<UInt64>, into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        var position = range.lowerBound
        while position < range.upperBound {
            let end = min(range.upperBound, (position / clusterSize + 1) * clusterSize)
            let part = UnsafeMutableRawBufferPointer(rebasing: destination[Int(position - range.lowerBound)..<Int(end - range.lowerBound)])
            guard try scratch.read(position..<end, into: part) || recentCompressed.read(position..<end, into: part) else { return false }
            position = end
        }
        return true
    }

    private func zeroFilledCluster(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if bytes.count == Int(clusterSize) { return bytes }
        table.copyMemory(from: bytes)
        UnsafeMutableRawBufferPointer(rebasing: table[bytes.count...]).initializeMemory(as: UInt8.self, repeating: 0)
        return UnsafeRawBufferPointer(table)
    }

    /// The stream has ended: whatever is still mapped ahead of it lies past the end of the image.
    private func finishMappings() throws {
        for item in active { try emit(item) }
        active = []
        let map = shared.withMap { map, _ in map }
        if let target = map.compressed.values.first?.first {
            throw DiskImportError.corrupt("\(name): qcow2: compressed cluster for guest offset \(target.guest) lies at 0x\(String(target.cluster.hostOffset, radix: 16)), past the end of the image (\(processed) bytes)")
        }
        for (_, target) in map.plain { try layout.zerosForPlain(target, to: output) }
        for (_, targets) in map.extraPlain { for target in targets { try layout.zerosForPlain(target, to: output) } }
        for (_, indices) in map.l2Tables {
            for index in indices { try zerosForL1Entry(index) }
        }
        let needed = Int((layout.guestSize + layout.bytesPerL1Entry - 1) / layout.bytesPerL1Entry)
        if l1Seen < needed { for index in l1Seen..<needed { try zerosForL1Entry(index) } }
    }

    private func zerosForL1Entry(_ index: Int) throws {
        let guest = UInt64(index) * layout.bytesPerL1Entry
        if guest < layout.guestSize { try output.zeros(guest: guest, length: min(layout.bytesPerL1Entry, layout.guestSize - guest)) }
    }
}
