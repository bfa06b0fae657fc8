import DiskImportCore

/// An opened qcow2 image: its header and active L1/L2 tables, answering "what does guest offset X hold".
///
/// Memory stays small whatever the image size: the L1 table and the L2 tables are read in slices, and only the
/// slice in use is kept (the walk is sequential). Tables and entries past the end of the file read as zeros,
/// as in qemu (whose reads past the end of a file are zero-filled).
final class Qcow2Image: ChainLayer {
    let header: Qcow2Header
    let source: RandomAccessSource
    let guestSize: UInt64
    var clusterSize: Int { Int(header.clusterSize) }
    var compressionType: Qcow2CompressionType { header.compressionType }

    private let decoder: Qcow2EntryDecoder
    /// Where metadata reads are counted, once a conversion starts.
    var progress: TransferProgress?
    private let clusterBits: UInt64
    private let l2Bits: UInt64
    private let entryBytes: Int

    /// Entries per L1 slice and per L2 slice.
    private static let l1SliceEntries = 8192
    private static let l2SliceBytes = 32 << 10
    private let l2SliceEntries: Int

    private var l1Slice = TableSlice()
    private var l2Slice = TableSlice()

    /// Reads and validates the header of the qcow2 image in `source`.
    init(source: RandomAccessSource) throws {
        self.source = source
        header = try Qcow2Image.readHeader(from: source)
        try header.refuseExternalDataFile(name: source.displayName)
        guestSize = header.guestSize
        decoder = Qcow2EntryDecoder(header: header, name: source.displayName)
        clusterBits = UInt64(header.clusterBits)
        l2Bits = UInt64(header.l2Bits)
        entryBytes = Int(header.l2EntryBytes)
        l2SliceEntries = min(1 << Int(header.l2Bits), Self.l2SliceBytes / entryBytes)
    }

    deinit {
        l1Slice.release()
        l2Slice.release()
    }

    /// Reads the first cluster (zero-filled past the end of the file) and parses the header in it.
    static func readHeader(from source: RandomAccessSource) throws -> Qcow2Header {
        var prefix = [UInt8](repeating: 0, count: 104)
        let got = try prefix.withUnsafeMutableBytes { try source.readFully(at: 0, into: $0) }
        let want = prefix.withUnsafeBytes { Qcow2Header.headLength(from: UnsafeRawBufferPointer(rebasing: $0[..<got])) }
        var head = [UInt8](repeating: 0, count: max(want, 104))
        let have = try head.withUnsafeMutableBytes { try source.readFully(at: 0, into: $0) }
        return try head.withUnsafeBytes {
            try Qcow2Header(head: UnsafeRawBufferPointer(rebasing: $0[..<min(have, $0.count)]), fileLength: source.length,
                            name: source.displayName)
        }
    }

    func extent(at offset: UInt64, limit: UInt64) throws -> LayerExtent {
        let perL1 = UInt64(1) << (clusterBits + l2Bits)
        let l1Index = offset >> (clusterBits + l2Bits)
        let l2Offset = try l1Entry(l1Index) & Qcow2EntryDecoder.offsetMask
        if l2Offset == 0 {
            // Unallocated up to the next allocated L2 table.
            var end = (l1Index + 1) * perL1
            while end < limit, try l1Entry(end / perL1) & Qcow2EntryDecoder.offsetMask == 0 { end += perL1 }
            return LayerExtent(length: min(end, limit) - offset, content: .unallocated)
        }
        if l2Offset & (header.clusterSize - 1) != 0 {
            throw DiskImportError.corrupt("\(source.displayName): qcow2: L2 table offset 0x\(String(l2Offset, radix: 16)) (L1 index \(l1Index)) is not aligned to the cluster size")
        }

        let clusterSize = header.clusterSize
        let l2Index = Int((offset >> clusterBits) & ((1 << l2Bits) - 1))
        try loadL2Slice(tableOffset: l2Offset, containing: l2Index)
        // The extent may not leave this slice: the next one is another read.
        let sliceEnd = (offset & ~(clusterSize - 1)) + UInt64(l2Slice.first + l2Slice.count - l2Index) * clusterSize
        let end = min(limit, sliceEnd)

        var position = offset
        var index = l2Index
        var run: LayerContent? = nil
        var runStart = offset
        while position < end {
            let cluster = try clusterAt(index: index, tableOffset: l2Offset)
            let clusterStart = position & ~(clusterSize - 1)
            let (content, pieceEnd) = piece(of: cluster, at: position, clusterStart: clusterStart)
            let length = min(pieceEnd, end) - position
            if case .compressed = content {
                if run != nil { break }
                return LayerExtent(length: length, content: content)
            }
            if let current = run {
                guard Self.continues(current, runLength: position - runStart, with: content) else { break }
            } else {
                run = content
                runStart = position
            }
            position += length
            if position & (clusterSize - 1) == 0 { index += 1 }
        }
        return LayerExtent(length: position - runStart, content: run ?? .unallocated)
    }

    /// Whether `next` extends a run of `current` content that is `runLength` bytes long.
    private static func continues(_ current: LayerContent, runLength: UInt64, with next: LayerContent) -> Bool {
        switch (current, next) {
        case (.unallocated, .unallocated), (.zero, .zero): return true
        case (.data(let a), .data(let b)): return a + runLength == b
        default: return false
        }
    }

    /// The content at `position` of `cluster` and where that content ends (the cluster end, or for mixed
    /// subclusters the end of the run of equal subclusters).
    @inline(__always)
    private func piece(of cluster: Qcow2Cluster, at position: UInt64, clusterStart: UInt64) -> (LayerContent, UInt64) {
        let clusterEnd = clusterStart + header.clusterSize
        switch cluster {
        case .unallocated: return (.unallocated, clusterEnd)
        case .zero: return (.zero, clusterEnd)
        case .data(let host): return (.data(host: host + (position - clusterStart)), clusterEnd)
        case .compressed(let c): return (.compressed(c, offsetInCluster: position - clusterStart), clusterEnd)
        case .subclusters(let host, let allocated, let zero):
            let subclusterSize = header.clusterSize / 32
            let first = Int((position - clusterStart) / subclusterSize)
            func kind(_ n: Int) -> Int { zero >> n & 1 != 0 ? 1 : allocated >> n & 1 != 0 ? 2 : 0 }
            let k = kind(first)
            var last = first + 1
            while last < 32 && kind(last) == k { last += 1 }
            let pieceEnd = clusterStart + UInt64(last) * subclusterSize
            switch k {
            case 1: return (.zero, pieceEnd)
            case 2: return (.data(host: host + (position - clusterStart)), pieceEnd)
            default: return (.unallocated, pieceEnd)
            }
        }
    }

    @inline(__always)
    private func clusterAt(index: Int, tableOffset: UInt64) throws -> Qcow2Cluster {
        let slot = index - l2Slice.first
        let base = l2Slice.buffer.baseAddress!
        let entry = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: slot * entryBytes, as: UInt64.self))
        let bitmap = entryBytes == 16 ? UInt64(bigEndian: base.loadUnaligned(fromByteOffset: slot * 16 + 8, as: UInt64.self)) : 0
        return try decoder.decode(entry, bitmap: bitmap,
                                  where: "L2 table at 0x\(String(tableOffset, radix: 16)) entry \(index)")
    }

    /// The L1 entry at `index` (0 past the table: the header check guarantees the table covers the guest size).
    private func l1Entry(_ index: UInt64) throws -> UInt64 {
        guard index < UInt64(header.l1Size) else { return 0 }
        let i = Int(index)
        if !l1Slice.contains(i) {
            let first = i - i % Self.l1SliceEntries
            let count = min(Self.l1SliceEntries, Int(header.l1Size) - first)
            try l1Slice.load(from: source, at: header.l1TableOffset + UInt64(first) * 8, first: first, count: count,
                             entryBytes: 8, progress: progress)
        }
        return UInt64(bigEndian: l1Slice.buffer.baseAddress!.loadUnaligned(fromByteOffset: (i - l1Slice.first) * 8, as: UInt64.self))
    }

    private func loadL2Slice(tableOffset: UInt64, containing index: Int) throws {
        if l2Slice.tableOffset == tableOffset && l2Slice.contains(index) { return }
        let first = index - index % l2SliceEntries
        try l2Slice.load(from: source, at: tableOffset + UInt64(first * entryBytes), first: first, count: l2SliceEntries,
                         entryBytes: entryBytes, progress: progress)
        l2Slice.tableOffset = tableOffset
    }
}

/// A run of table entries read from the image, zero-filled past the end of the file.
struct TableSlice {
    var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    var tableOffset: UInt64 = .max
    var first = 0
    var count = 0

    func contains(_ index: Int) -> Bool { buffer.baseAddress != nil && index >= first && index < first + count }

    mutating func load(from source: RandomAccessSource, at offset: UInt64, first: Int, count: Int, entryBytes: Int,
                       progress: TransferProgress?) throws {
        let bytes = count * entryBytes
        if buffer.count < bytes {
            buffer.deallocate()
            buffer = .allocate(byteCount: bytes, alignment: 64)
        }
        self.first = first
        self.count = 0
        tableOffset = .max
        let region = UnsafeMutableRawBufferPointer(rebasing: buffer[..<bytes])
        let got = try source.readFully(at: offset, into: region)
        if got < bytes { UnsafeMutableRawBufferPointer(rebasing: region[got...]).initializeMemory(as: UInt8.self, repeating: 0) }
        progress?.addSourceBytes(UInt64(got))
        self.count = count
    }

    func release() { buffer.deallocate() }
}
