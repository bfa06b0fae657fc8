import DiskImportCore

/// Where the guest bytes found by the streaming qcow2 reader go: worker jobs (`Qcow2StreamOutput`), or the target
/// directly (`Qcow2DirectOutput`, on an xz block worker).
protocol Qcow2GuestOutput: AnyObject {
    /// Guest bytes at `guest`.
    func data(_ bytes: UnsafeRawBufferPointer, guest: UInt64) throws
    /// A guest range that reads as zeros.
    func zeros(guest: UInt64, length: UInt64) throws
}

/// The parts of a qcow2 header the streaming readers work from, and what they do the same way whichever thread
/// runs them: reading an L2 table's entries, writing a plain cluster's guest bytes.
struct Qcow2StreamLayout {
    let name: String
    let clusterSize: UInt64
    let clusterBits: UInt32
    let l2Entries: Int
    let entryBytes: Int
    let bytesPerL1Entry: UInt64
    let guestSize: UInt64
    let l1Range: Range<UInt64>
    let refcountTableRange: Range<UInt64>
    let decoder: Qcow2EntryDecoder

    init(header: Qcow2Header, name: String) {
        self.name = name
        clusterSize = header.clusterSize
        clusterBits = header.clusterBits
        l2Entries = 1 << Int(header.l2Bits)
        entryBytes = Int(header.l2EntryBytes)
        bytesPerL1Entry = header.bytesPerL1Entry
        guestSize = header.guestSize
        l1Range = header.l1TableOffset..<header.l1TableOffset + UInt64(header.l1Size) * 8
        refcountTableRange = header.refcountTableOffset..<header.refcountTableOffset + UInt64(header.refcountTableClusters) * clusterSize
        decoder = Qcow2EntryDecoder(header: header, name: name)
    }

    /// What one L2 entry says about its guest cluster.
    enum Entry {
        case zeros(guest: UInt64, length: UInt64)
        case plain(Qcow2StreamMap.PlainTarget, host: UInt64)
        case compressed(Qcow2StreamMap.CompressedTarget)
    }

    /// Calls `body` for each guest cluster the L2 table `entries` (at image offset `tableOffset`, for L1 entry
    /// `l1Index`) maps; entries past the end of the disk are not looked at.
    func forEachEntry(of entries: UnsafeRawBufferPointer, l1Index: Int, tableOffset: UInt64,
                      _ body: (Entry) throws -> Void) throws {
        let base = UInt64(l1Index) * bytesPerL1Entry
        for index in 0..<l2Entries {
            let guest = base + UInt64(index) * clusterSize
            guard guest < guestSize else { break }
            let length = min(clusterSize, guestSize - guest)
            let entry = UInt64(bigEndian: entries.loadUnaligned(fromByteOffset: index * entryBytes, as: UInt64.self))
            let bitmap = entryBytes == 16 ? UInt64(bigEndian: entries.loadUnaligned(fromByteOffset: index * 16 + 8, as: UInt64.self)) : 0
            switch try decoder.decode(entry, bitmap: bitmap, where: "L2 table at 0x\(String(tableOffset, radix: 16)) entry \(index)") {
            case .unallocated, .zero:
                try body(.zeros(guest: guest, length: length))
            case .data(let host):
                try body(.plain(Qcow2StreamMap.PlainTarget(guest: guest, allocated: .max), host: host))
            case .subclusters(let host, let allocated, _):
                // No backing file here: subclusters that are not allocated read as zeros.
                try forEachSubclusterRun(of: ~allocated, guest: guest, length: length) { try body(.zeros(guest: $0, length: $1)) }
                if allocated != 0 { try body(.plain(Qcow2StreamMap.PlainTarget(guest: guest, allocated: allocated), host: host)) }
            case .compressed(let cluster):
                try body(.compressed(Qcow2StreamMap.CompressedTarget(cluster: cluster, guest: guest, length: Int(length))))
            }
        }
    }

    /// Writes a plain cluster's guest bytes; `bytes` may be short of a cluster at the end of the stream (zeros follow).
    func writePlain(_ target: Qcow2StreamMap.PlainTarget, _ bytes: UnsafeRawBufferPointer, to output: Qcow2GuestOutput) throws {
        let length = min(clusterSize, guestSize - target.guest)
        try forEachSubclusterRun(of: target.allocated, guest: target.guest, length: length) { guest, count in
            let start = Int(guest - target.guest)
            let inStream = max(0, min(bytes.count - start, Int(count)))
            if inStream > 0 { try output.data(UnsafeRawBufferPointer(rebasing: bytes[start..<start + inStream]), guest: guest) }
            if inStream < Int(count) { try output.zeros(guest: guest + UInt64(inStream), length: count - UInt64(inStream)) }
        }
    }

    /// Zeros for a plain cluster whose bytes lie past the end of the image.
    func zerosForPlain(_ target: Qcow2StreamMap.PlainTarget, to output: Qcow2GuestOutput) throws {
        try forEachSubclusterRun(of: target.allocated, guest: target.guest, length: min(clusterSize, guestSize - target.guest)) {
            try output.zeros(guest: $0, length: $1)
        }
    }

    /// Calls `body` for each run of subclusters whose bit is set in `mask` (a cluster is 32 subclusters with
    /// extended L2; without, the mask is all ones), clipped to `length` bytes from `guest`.
    func forEachSubclusterRun(of mask: UInt32, guest: UInt64, length: UInt64,
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
}
