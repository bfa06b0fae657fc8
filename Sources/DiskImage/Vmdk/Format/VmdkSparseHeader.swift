import DiskImportCore

/// The header of a hosted sparse extent ("KDMV", VMDK4Header in qemu's block/vmdk.c): the first sector of a
/// monolithicSparse or streamOptimized image and of each twoGbMaxExtentSparse extent. Parsed from bytes in memory,
/// so a fuzzer can call it on any buffer.
struct VmdkSparseHeader: Equatable, Sendable {
    static let magic: [UInt8] = Array("KDMV".utf8)
    /// Bytes of the header that qemu reads: the magic and the packed VMDK4Header.
    static let length = 79
    /// gd_offset of a stream whose grain directory follows the grains (the footer holds the real header).
    static let gdAtEnd = UInt64.max

    var version: UInt32
    var flags: UInt32
    /// The extent's size in sectors.
    var capacity: UInt64
    /// Sectors per grain.
    var granularity: UInt64
    var descriptorOffset: UInt64
    var descriptorSize: UInt64
    var gtesPerGT: UInt32
    var redundantGDOffset: UInt64
    var gdOffset: UInt64
    /// Sectors before the first grain (qemu's grain_offset, VMware's overHead).
    var grainOffset: UInt64
    var compressAlgorithm: UInt16

    var hasRedundantGD: Bool { flags & (1 << 1) != 0 }
    var hasZeroGrain: Bool { flags & (1 << 2) != 0 }
    var hasMarkers: Bool { flags & (1 << 17) != 0 }
    /// compressAlgorithm 1 (deflate): qemu reads every grain as compressed, and calls the image streamOptimized.
    var isCompressed: Bool { compressAlgorithm == 1 }
    var grainBytes: UInt64 { granularity * 512 }
    var virtualSize: UInt64 { capacity * 512 }

    /// Parses the header at the start of `bytes` (at least `length` bytes; the magic included).
    init(_ bytes: UnsafeRawBufferPointer, name: String) throws {
        guard bytes.count >= Self.length else { throw DiskImportError.corrupt("\(name): vmdk: truncated header") }
        guard bytes.starts(with: Self.magic) else { throw DiskImportError.corrupt("\(name): vmdk: not a hosted sparse extent (no KDMV magic)") }
        func u16(_ o: Int) -> UInt16 { UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        version = u32(4)
        flags = u32(8)
        capacity = u64(12)
        granularity = u64(20)
        descriptorOffset = u64(28)
        descriptorSize = u64(36)
        gtesPerGT = u32(44)
        redundantGDOffset = u64(48)
        gdOffset = u64(56)
        grainOffset = u64(64)
        compressAlgorithm = u16(77)
    }

    /// The checks of qemu's vmdk_open_vmdk4 and vmdk_add_extent, in its order and with its words, plus bounds that
    /// keep every offset computation inside 64 bits. `fileLength`: the extent file's length when known.
    func validate(fileLength: UInt64?, name: String) throws {
        if capacity == 0 && descriptorOffset != 0 {
            throw DiskImportError.unsupported("\(name): vmdk: a sparse extent whose header points to another descriptor is not supported")
        }
        if version > 3 { throw DiskImportError.unsupported("\(name): vmdk: unsupported VMDK version \(version)") }
        if gtesPerGT > 512 { throw DiskImportError.corrupt("\(name): vmdk: L2 table size too big (\(gtesPerGT) entries per grain table)") }
        // vmdk_open_vmdk4 keeps l1_entry_sectors in a uint32_t: the product wraps there, as here.
        if UInt32(truncatingIfNeeded: UInt64(gtesPerGT) &* granularity) == 0 { throw DiskImportError.corrupt("\(name): vmdk: L1 entry size is invalid (grain size or grain table size is 0)") }
        if let fileLength, fileLength / 512 < grainOffset {
            // qemu prints grain_offset * 512 wrapped to int64; a hostile offset past 2^55 sectors is named in sectors.
            let (bytes, overflow) = grainOffset.multipliedReportingOverflow(by: 512)
            throw DiskImportError.corrupt("\(name): vmdk: file truncated, expecting at least " + (overflow ? "\(grainOffset) sectors" : "\(bytes) bytes"))
        }
        // Without a file length (a stream) the check above cannot hold the offset: any past 2^63 bytes is impossible.
        if grainOffset > UInt64(Int64.max) / 512 { throw DiskImportError.corrupt("\(name): vmdk: grain offset of \(grainOffset) sectors is too large") }
        if granularity > 0x200000 { throw DiskImportError.corrupt("\(name): vmdk: invalid granularity \(granularity) sectors, image may be corrupt") }
        if gdEntries > 32 << 20 { throw DiskImportError.corrupt("\(name): vmdk: L1 size too big (\(gdEntries) grain directory entries)") }
        if capacity > UInt64(Int64.max) / 512 { throw DiskImportError.corrupt("\(name): vmdk: capacity of \(capacity) sectors is too large") }
    }

    /// Grain directory entries: one per grain table, enough for the capacity (qemu's l1_size).
    var gdEntries: UInt64 {
        let sectorsPerGT = UInt64(gtesPerGT) * granularity
        return sectorsPerGT == 0 ? 0 : capacity / sectorsPerGT + (capacity % sectorsPerGT == 0 ? 0 : 1)
    }
}

/// The end of a stream whose header says the grain directory is at the end (gd_offset 0xffff…): a footer marker,
/// the footer (a copy of the header that qemu uses instead of the first one) and the end-of-stream marker, in the
/// last three sectors (qemu's vmdk_open_vmdk4).
enum VmdkFooter {
    static let length = 1536

    /// The header in the footer `bytes` (the file's last 1536 bytes), after qemu's sanity checks.
    static func header(_ bytes: UnsafeRawBufferPointer, name: String) throws -> VmdkSparseHeader {
        guard bytes.count >= length,
              let footerMarker = VmdkMarker(UnsafeRawBufferPointer(rebasing: bytes[0..<512])),
              let endMarker = VmdkMarker(UnsafeRawBufferPointer(rebasing: bytes[1024..<1536])),
              footerMarker.size == 0, footerMarker.type == VmdkMarker.footer,
              endMarker.value == 0, endMarker.size == 0, endMarker.type == VmdkMarker.endOfStream,
              bytes[512..<516].elementsEqual(VmdkSparseHeader.magic) else {
            throw DiskImportError.corrupt("\(name): vmdk: invalid footer")
        }
        return try VmdkSparseHeader(UnsafeRawBufferPointer(rebasing: bytes[512..<1024]), name: name)
    }
}

/// A marker of a stream-optimized extent: a grain (its LBA, then `size` bytes of deflate data), or, with size 0, a
/// metadata marker of `type` followed by `value` sectors (qemu's VmdkGrainMarker and the MARKER_* types).
struct VmdkMarker: Equatable {
    static let endOfStream: UInt32 = 0
    static let grainTable: UInt32 = 1
    static let grainDirectory: UInt32 = 2
    static let footer: UInt32 = 3
    /// Bytes before a grain's compressed data.
    static let grainHeaderLength = 12

    /// A grain's LBA in sectors; a metadata marker's length in sectors.
    var value: UInt64
    var size: UInt32
    /// Meaningful only when `size` is 0.
    var type: UInt32

    init?(_ sector: UnsafeRawBufferPointer) {
        guard sector.count >= 16 else { return nil }
        value = UInt64(littleEndian: sector.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        size = UInt32(littleEndian: sector.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        type = UInt32(littleEndian: sector.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
    }
}
