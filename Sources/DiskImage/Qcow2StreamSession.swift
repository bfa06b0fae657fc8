import DiskImportCore

/// One front-to-back pass of the streaming qcow2 reader (see `Qcow2StreamReader`).
///
/// `processed` is the image offset up to which every cluster has been looked at. A mapping learnt for something
/// at or past it is remembered in the map until the stream gets there; one for something behind it is served
/// from the window (still in memory) or the scratch file, or fails with "scratch space required".
/// Every guest range ends up written exactly once: as data, or as zeros (unallocated and zero clusters, and
/// anything mapped past the end of the image, which qemu reads as zeros).
final class Qcow2StreamSession {
    private let header: Qcow2Header
    private let name: String
    private let window: Qcow2StreamWindow
    private let scratch: Qcow2StreamScratch
    private let output: Qcow2StreamOutput
    private let decoder: Qcow2EntryDecoder

    private let clusterSize: UInt64
    private let clusterBits: UInt32
    private let l2Entries: Int
    private let entryBytes: Int
    private let bytesPerL1Entry: UInt64
    private let guestSize: UInt64
    private let l1Range: Range<UInt64>
    private let refcountTableRange: Range<UInt64>

    private var map = Qcow2StreamMap()
    private var processed: UInt64 = 0
    private var l1Seen = 0
    private var refcountBlocks: Set<UInt64> = []
    private var active: [Active] = []
    /// One cluster each: an L2 table that must be zero-filled or fetched from behind the stream, and a data
    /// cluster fetched from behind the stream while that table is being read.
    private let table: UnsafeMutableRawBufferPointer
    private let dataCluster: UnsafeMutableRawBufferPointer

    /// A compressed cluster whose bytes the stream is passing. `prefix` holds the bytes before `resume` when they
    /// came from behind the stream; otherwise `resume` is its start and the window keeps everything from there.
    private struct Active {
        var target: Qcow2StreamMap.CompressedTarget
        var prefix: Qcow2OwnedBuffer?
        var resume: UInt64
    }

    init(header: Qcow2Header, name: String, stream: ByteStream, scratch: Qcow2StreamScratch,
         submit: @escaping (Qcow2TransferJob) throws -> Void) {
        self.header = header
        self.name = name
        self.scratch = scratch
        clusterSize = header.clusterSize
        clusterBits = header.clusterBits
        l2Entries = 1 << Int(header.l2Bits)
        entryBytes = Int(header.l2EntryBytes)
        bytesPerL1Entry = header.bytesPerL1Entry
        guestSize = header.guestSize
        l1Range = header.l1TableOffset..<header.l1TableOffset + UInt64(header.l1Size) * 8
        refcountTableRange = header.refcountTableOffset..<header.refcountTableOffset + UInt64(header.refcountTableClusters) * clusterSize
        decoder = Qcow2EntryDecoder(header: header, name: name)
        let chunk = max(1 << 20, Int(clusterSize))
        // Kept behind the newest chunk: at most an unfinished compressed cluster (two clusters plus a sector).
        window = Qcow2StreamWindow(stream: stream, chunkSize: chunk, retainable: 3 * Int(clusterSize) + 4096)
        output = Qcow2StreamOutput(name: name, clusterSize: Int(clusterSize), compressionType: header.compressionType, submit: submit)
        table = .allocate(byteCount: Int(clusterSize), alignment: 64)
        dataCluster = .allocate(byteCount: Int(clusterSize), alignment: 64)
    }

    deinit {
        table.deallocate()
        dataCluster.deallocate()
    }

    func run() throws {
        while true {
            let keep = active.reduce(processed) { min($0, $1.resume) }
            let range = try window.advance(keeping: keep)
            if range.isEmpty { break }
            var host = range.lowerBound
            while host < range.upperBound {
                let count = min(clusterSize, range.upperBound - host)
                processed = host + count
                try processCluster(at: host, count: Int(count))
                try completeActive()
                host += count
            }
        }
        try finish()
        try output.flush()
    }

    // MARK: - One cluster of the stream

    private func processCluster(at host: UInt64, count: Int) throws {
        let bytes = window.bytes(host..<host + UInt64(count))
        let range = host..<host + UInt64(count)
        var known = host < clusterSize  // the header
        if range.overlaps(l1Range) {
            known = true
            try parseL1(range.clamped(to: l1Range))
        }
        if range.overlaps(refcountTableRange) {
            known = true
            let part = range.clamped(to: refcountTableRange)
            var offset = part.lowerBound
            while offset + 8 <= part.upperBound {
                let entry = UInt64(bigEndian: window.bytes(offset..<offset + 8).loadUnaligned(as: UInt64.self)) & ~511
                if entry != 0 { refcountBlocks.insert(entry) }
                offset += 8
            }
        }
        if !refcountBlocks.isEmpty && refcountBlocks.contains(host) { known = true }
        let l1Indices = map.takeL2(at: host)
        if !l1Indices.isEmpty {
            known = true
            let entries = zeroFilledCluster(bytes)
            for index in l1Indices { try parseL2(entries, l1Index: index, tableOffset: host) }
        }
        if let target = map.takePlain(at: host) {
            known = true
            try writePlain(target, bytes)
            for extra in map.takeExtraPlain(at: host) { try writePlain(extra, bytes) }
        }
        for target in map.takeCompressed(startingInCluster: host >> UInt64(clusterBits)) {
            active.append(Active(target: target, prefix: nil, resume: target.cluster.hostOffset))
        }
        // Anything else may be referenced by a table further on: keep it. A cluster covered by compressed clusters
        // being read is not kept; should a later table point into one (a compressed cluster starting in the shared
        // last sector of another), the fetch fails loudly, never with wrong bytes.
        if !known && !coveredByActive(range) { try scratch.keep(bytes, host: host) }
    }

    private func parseL1(_ part: Range<UInt64>) throws {
        var offset = part.lowerBound
        while offset < part.upperBound {
            let index = Int((offset - l1Range.lowerBound) / 8)
            var raw: UInt64 = 0
            let available = window.bytes(offset..<min(offset + 8, part.upperBound))
            for byte in available { raw = raw << 8 | UInt64(byte) }
            raw <<= UInt64(8 * (8 - available.count))  // an entry cut by the end of the file ends in zeros
            offset += 8
            l1Seen = index + 1
            let guest = UInt64(index) * bytesPerL1Entry
            guard guest < guestSize else { continue }
            let l2Offset = raw & Qcow2EntryDecoder.offsetMask
            if l2Offset == 0 {
                try output.zeros(guest: guest, length: min(bytesPerL1Entry, guestSize - guest))
            } else if l2Offset & (clusterSize - 1) != 0 {
                throw DiskImportError.corrupt("\(name): qcow2: L2 table offset 0x\(String(l2Offset, radix: 16)) (L1 index \(index)) is not aligned to the cluster size")
            } else if l2Offset >= processed {
                try map.addL2(at: l2Offset, l1Index: index)
            } else {
                try fetch(l2Offset..<l2Offset + clusterSize, into: table, what: "L2 table")
                try parseL2(UnsafeRawBufferPointer(table), l1Index: index, tableOffset: l2Offset)
            }
        }
    }

    private func parseL2(_ entries: UnsafeRawBufferPointer, l1Index: Int, tableOffset: UInt64) throws {
        let base = UInt64(l1Index) * bytesPerL1Entry
        for index in 0..<l2Entries {
            let guest = base + UInt64(index) * clusterSize
            guard guest < guestSize else { break }
            let length = min(clusterSize, guestSize - guest)
            let entry = UInt64(bigEndian: entries.loadUnaligned(fromByteOffset: index * entryBytes, as: UInt64.self))
            let bitmap = entryBytes == 16 ? UInt64(bigEndian: entries.loadUnaligned(fromByteOffset: index * 16 + 8, as: UInt64.self)) : 0
            switch try decoder.decode(entry, bitmap: bitmap, where: "L2 table at 0x\(String(tableOffset, radix: 16)) entry \(index)") {
            case .unallocated, .zero:
                try output.zeros(guest: guest, length: length)
            case .data(let host):
                try place(Qcow2StreamMap.PlainTarget(guest: guest, allocated: .max), host: host)
            case .subclusters(let host, let allocated, _):
                // No backing file here: subclusters that are not allocated read as zeros.
                try forEachSubclusterRun(of: ~allocated, guest: guest, length: length) { try output.zeros(guest: $0, length: $1) }
                if allocated != 0 { try place(Qcow2StreamMap.PlainTarget(guest: guest, allocated: allocated), host: host) }
            case .compressed(let cluster):
                try place(Qcow2StreamMap.CompressedTarget(cluster: cluster, guest: guest, length: Int(length)))
            }
        }
    }

    // MARK: - Placing data

    private func place(_ target: Qcow2StreamMap.PlainTarget, host: UInt64) throws {
        if host >= processed { return try map.addPlain(at: host, target) }
        try fetch(host..<host + clusterSize, into: dataCluster, what: "data cluster")
        try writePlain(target, UnsafeRawBufferPointer(dataCluster))
    }

    private func place(_ target: Qcow2StreamMap.CompressedTarget) throws {
        let start = target.cluster.hostOffset
        if start >= processed { return try map.addCompressed(target, clusterBits: clusterBits) }
        let prefix = Qcow2OwnedBuffer(capacity: target.cluster.length)
        let have = min(target.end, processed)
        try fetch(start..<have, into: UnsafeMutableRawBufferPointer(rebasing: prefix.bytes[..<Int(have - start)]), what: "compressed cluster")
        let item = Active(target: target, prefix: prefix, resume: have)
        if target.end <= processed { try emit(item) } else { active.append(item) }
    }

    /// Writes a plain cluster's guest bytes; `bytes` may be short of a cluster at the end of the stream (zeros follow).
    private func writePlain(_ target: Qcow2StreamMap.PlainTarget, _ bytes: UnsafeRawBufferPointer) throws {
        let length = min(clusterSize, guestSize - target.guest)
        try forEachSubclusterRun(of: target.allocated, guest: target.guest, length: length) { guest, count in
            let start = Int(guest - target.guest)
            let inStream = max(0, min(bytes.count - start, Int(count)))
            if inStream > 0 { try output.data(UnsafeRawBufferPointer(rebasing: bytes[start..<start + inStream]), guest: guest) }
            if inStream < Int(count) { try output.zeros(guest: guest + UInt64(inStream), length: count - UInt64(inStream)) }
        }
    }

    /// Calls `body` for each run of subclusters whose bit is set in `mask` (a cluster is 32 subclusters with
    /// extended L2; without, the mask is all ones), clipped to `length` bytes from `guest`.
    private func forEachSubclusterRun(of mask: UInt32, guest: UInt64, length: UInt64,
                                      _ body: (UInt64, UInt64) throws -> Void) throws {
        if mask == .max { return try body(guest, length) }
        guard mask != 0 else { return }
        let subcluster = clusterSize / 32
        var bit = 0
        while bit < 32 {
            guard mask >> UInt32(bit) & 1 != 0 else { bit += 1; continue }
            var end = bit + 1
            while end < 32 && mask >> UInt32(end) & 1 != 0 { end += 1 }
            let from = UInt64(bit) * subcluster, to = min(UInt64(end) * subcluster, length)
            if from < to { try body(guest + from, to - from) }
            bit = end
        }
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
            guard try scratch.read(part, into: target) else {
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

    private func zeroFilledCluster(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if bytes.count == Int(clusterSize) { return bytes }
        table.copyMemory(from: bytes)
        UnsafeMutableRawBufferPointer(rebasing: table[bytes.count...]).initializeMemory(as: UInt8.self, repeating: 0)
        return UnsafeRawBufferPointer(table)
    }

    /// The stream has ended: whatever is still mapped ahead of it lies past the end of the image.
    private func finish() throws {
        for item in active { try emit(item) }
        active = []
        if let target = map.compressed.values.first?.first {
            throw DiskImportError.corrupt("\(name): qcow2: compressed cluster for guest offset \(target.guest) lies at 0x\(String(target.cluster.hostOffset, radix: 16)), past the end of the image (\(processed) bytes)")
        }
        for (_, target) in map.plain { try zerosForPlain(target) }
        for (_, targets) in map.extraPlain { for target in targets { try zerosForPlain(target) } }
        for (_, indices) in map.l2Tables {
            for index in indices { try zerosForL1Entry(index) }
        }
        let needed = Int((guestSize + bytesPerL1Entry - 1) / bytesPerL1Entry)
        if l1Seen < needed { for index in l1Seen..<needed { try zerosForL1Entry(index) } }
    }

    private func zerosForPlain(_ target: Qcow2StreamMap.PlainTarget) throws {
        try forEachSubclusterRun(of: target.allocated, guest: target.guest, length: min(clusterSize, guestSize - target.guest)) {
            try output.zeros(guest: $0, length: $1)
        }
    }

    private func zerosForL1Entry(_ index: Int) throws {
        let guest = UInt64(index) * bytesPerL1Entry
        if guest < guestSize { try output.zeros(guest: guest, length: min(bytesPerL1Entry, guestSize - guest)) }
    }
}
