import DiskImportCore

/// The grain directory and grain tables of one sparse extent (hosted sparse, stream-optimized or seSparse),
/// answering "what does grain N hold".
///
/// The directory is read whole at open (qemu does the same; it is 4 bytes per 32 MiB of guest data for qemu's
/// layout); one grain table is kept at a time, as the walk is sequential. A directory or table that does not lie
/// wholly inside the file, and grains that start past its end or overlap metadata or each other, are refused.
final class VmdkGrainDirectory {
    enum Layout: Sendable {
        /// Hosted sparse (VMDK4): 32-bit sector offsets; `zeroGrain`: entry 1 means a zeroed grain.
        case hosted(zeroGrain: Bool, compressed: Bool)
        /// seSparse: 64-bit entries with a type nibble, tables and grains counted from their areas' offsets.
        case seSparse(tablesOffset: UInt64, grainsOffset: UInt64)
    }

    /// A grain's content.
    enum Grain: Equatable {
        case unallocated
        case zero
        /// An uncompressed grain at this file offset.
        case data(UInt64)
        /// A compressed grain whose marker is at this file offset.
        case compressed(UInt64)
    }

    let source: RandomAccessSource
    let layout: Layout
    let grainBytes: UInt64
    let gtesPerGT: Int
    private let directory: [UInt64]
    private var table: [UInt64] = []
    private var tableIndex = -1
    private var claims: VmdkSectorClaims
    /// The claims of the metadata alone, to start each walk from.
    private var metadataClaims: VmdkSectorClaims
    /// The last grain looked up: a run's look-ahead asks for the grain the next run starts with.
    private var last: (index: UInt64, grain: Grain)?
    private var name: String { source.displayName }

    /// Reads the directory of `gdEntries` entries at byte `gdOffset`; `metadata` are file ranges already in use
    /// (headers, descriptor, the redundant directory).
    init(source: RandomAccessSource, layout: Layout, grainBytes: UInt64, gtesPerGT: Int, gdOffset: UInt64, gdEntries: Int,
         metadata: [(Range<UInt64>, String)]) throws {
        self.source = source
        self.layout = layout
        self.grainBytes = grainBytes
        self.gtesPerGT = gtesPerGT
        var compressed = false
        if case .hosted(_, let c) = layout { compressed = c }
        var claims = VmdkSectorClaims(fileLength: source.length, grainBytes: grainBytes, compressed: compressed)
        let entryBytes = Self.entryBytes(layout)
        let gdRange = gdOffset..<gdOffset + UInt64(gdEntries * entryBytes)
        if gdRange.upperBound > source.length {
            throw DiskImportError.corrupt("\(source.displayName): vmdk: the grain directory (\(gdEntries) entries at 0x\(String(gdOffset, radix: 16))) is larger than the file (\(source.length) bytes)")
        }
        for (range, what) in metadata { try claims.claim(range, what, name: source.displayName) }
        try claims.claim(gdRange, "the grain directory", name: source.displayName)
        self.claims = claims
        metadataClaims = claims
        directory = try Self.readEntries(source, at: gdOffset, count: gdEntries, entryBytes: entryBytes, what: "grain directory")
    }

    static func entryBytes(_ layout: Layout) -> Int {
        if case .seSparse = layout { return 8 }
        return 4
    }

    /// Grains the directory covers.
    var grainCount: UInt64 { UInt64(directory.count) * UInt64(gtesPerGT) }

    /// Starts a new walk over the grains (a measuring walk comes before the transfer's): nothing but the metadata
    /// is in use.
    func restart() {
        claims = metadataClaims
        last = nil
        tableIndex = -1
    }

    /// The content of grain `index` (< `grainCount`). Each grain is looked up once per walk (`restart`).
    func grain(_ index: UInt64) throws -> Grain {
        if let last, last.index == index { return last.grain }
        let grain = try lookUp(index)
        last = (index, grain)
        return grain
    }

    private func lookUp(_ index: UInt64) throws -> Grain {
        let gdIndex = Int(index / UInt64(gtesPerGT))
        guard gdIndex < directory.count else {
            throw DiskImportError.corrupt("\(name): vmdk: the grain directory has \(directory.count) entries, too few for the capacity")
        }
        guard let tableOffset = try tableOffset(directory[gdIndex], gdIndex) else { return .unallocated }
        if gdIndex != tableIndex { try load(tableOffset, gdIndex) }
        return try decode(table[Int(index % UInt64(gtesPerGT))], index)
    }

    /// Byte offset of the grain table a directory entry names; nil when it names none.
    private func tableOffset(_ entry: UInt64, _ gdIndex: Int) throws -> UInt64? {
        guard entry != 0 else { return nil }
        switch layout {
        case .hosted: return entry * 512
        case .seSparse(let tablesOffset, _):
            // qemu's get_cluster_offset: the top 32 bits must be 0x10000000, the low 32 count tables.
            guard entry & 0xffff_ffff_0000_0000 == 0x1000_0000_0000_0000 else {
                throw DiskImportError.corrupt("\(name): vmdk seSparse: invalid grain directory entry 0x\(String(entry, radix: 16)) (index \(gdIndex))")
            }
            let sector = tablesOffset + (entry & 0xffff_ffff) * UInt64(gtesPerGT * 8) / 512
            guard sector <= 0xffff_ffff else { throw DiskImportError.corrupt("\(name): vmdk seSparse: grain table \(entry & 0xffff_ffff) lies beyond 2 TiB") }
            return sector * 512
        }
    }

    private func load(_ offset: UInt64, _ gdIndex: Int) throws {
        let bytes = UInt64(gtesPerGT * Self.entryBytes(layout))
        guard offset <= source.length, bytes <= source.length - offset else {
            throw DiskImportError.corrupt("\(name): vmdk: grain table \(gdIndex) at 0x\(String(offset, radix: 16)) lies past the end of the file (\(source.length) bytes)")
        }
        try claims.claim(offset..<offset + bytes, "grain table \(gdIndex)", name: name)
        table = try Self.readEntries(source, at: offset, count: gtesPerGT, entryBytes: Self.entryBytes(layout), what: "grain table")
        tableIndex = gdIndex
    }

    private func decode(_ entry: UInt64, _ index: UInt64) throws -> Grain {
        let host: UInt64
        let compressed: Bool
        switch layout {
        case .hosted(let zeroGrain, let isCompressed):
            if entry == 0 { return .unallocated }
            if entry == 1 && zeroGrain { return .zero }
            host = entry * 512
            compressed = isCompressed
        case .seSparse(_, let grainsOffset):
            // qemu's get_cluster_offset for seSparse: the top nibble is the grain's type.
            switch entry >> 60 {
            case 0:
                if entry != 0 { throw DiskImportError.corrupt("\(name): vmdk seSparse: invalid unallocated grain entry 0x\(String(entry, radix: 16))") }
                return .unallocated
            case 1, 2: return .zero
            case 3:
                let cluster = (entry & 0x0fff_0000_0000_0000) >> 48 | (entry & 0x0000_ffff_ffff_ffff) << 12
                host = (grainsOffset + cluster * (grainBytes / 512)) * 512
                compressed = false
            default: throw DiskImportError.corrupt("\(name): vmdk seSparse: invalid grain entry 0x\(String(entry, radix: 16))")
            }
        }
        guard host < source.length else {
            throw DiskImportError.corrupt("\(name): vmdk: grain \(index) points past the end of the file (0x\(String(host, radix: 16)), file is \(source.length) bytes)")
        }
        // A compressed grain's length is known only from its marker: its first sector stands for it.
        try claims.claim(host..<host + (compressed ? 512 : grainBytes), "grain \(index)", name: name)
        return compressed ? .compressed(host) : .data(host)
    }

    static func readEntries(_ source: RandomAccessSource, at offset: UInt64, count: Int, entryBytes: Int, what: String) throws -> [UInt64] {
        var raw = [UInt8](repeating: 0, count: count * entryBytes)
        try raw.withUnsafeMutableBytes { try source.readExactly(at: offset, into: $0, what: "vmdk \(what)") }
        return raw.withUnsafeBytes { bytes in
            (0..<count).map { i in
                entryBytes == 8 ? UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
                    : UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        }
    }
}
