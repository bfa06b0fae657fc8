import DiskImportCore

/// The fixed qcow2 header (qemu's `QCowHeader`, docs/interop/qcow2.txt), validated as qemu 7.2's `qcow2_do_open`
/// validates it, plus what the header extensions and the backing file name say.
///
/// Everything here comes from untrusted bytes: every field is checked before it sizes an allocation or a read,
/// and arithmetic on it never traps.
public struct Qcow2Header: Sendable, Equatable {
    public static let magic: UInt32 = 0x5146_49fb  // "QFI\xfb"
    /// qemu's QCOW_MAX_L1_SIZE: the active L1 table may not exceed 32 MiB.
    public static let maxL1Bytes: UInt64 = 32 << 20
    /// qemu's QCOW_MAX_REFTABLE_SIZE.
    static let maxRefcountTableBytes: UInt64 = 8 << 20
    /// qemu refuses reads that end past 2^63 - 1 GiB (BDRV_MAX_LENGTH); tables it must read may not lie beyond.
    static let maxReadableOffset: UInt64 = UInt64(Int64.max) - (1 << 30) + 1
    /// qemu's QCOW_MAX_SNAPSHOTS times sizeof(QCowSnapshotHeader).
    static let maxSnapshotTableBytes: UInt64 = 65536 * 40
    /// Bytes of the fixed header that a version 2 image has.
    static let version2Length = 72
    /// The shortest version 3 header (without the compression type byte).
    static let version3MinimumLength = 104

    public var version: UInt32
    public var backingFileOffset: UInt64
    public var backingFileSize: UInt32
    public var clusterBits: UInt32
    /// The virtual size as stored; guests see `guestSize`.
    public var size: UInt64
    public var cryptMethod: UInt32
    public var l1Size: UInt32
    public var l1TableOffset: UInt64
    public var refcountTableOffset: UInt64
    public var refcountTableClusters: UInt32
    public var snapshotCount: UInt32
    public var snapshotsOffset: UInt64
    public var incompatibleFeatures: UInt64 = 0
    public var compatibleFeatures: UInt64 = 0
    public var autoclearFeatures: UInt64 = 0
    public var refcountOrder: UInt32 = 4
    public var headerLength: UInt32
    public var compressionType: Qcow2CompressionType = .zlib

    /// From the header extensions and the backing file name field.
    public var extensions = Qcow2HeaderExtensions()

    public struct IncompatibleFeature {
        public static let dirty: UInt64 = 1 << 0
        public static let corrupt: UInt64 = 1 << 1
        public static let externalDataFile: UInt64 = 1 << 2
        public static let compressionType: UInt64 = 1 << 3
        public static let extendedL2: UInt64 = 1 << 4
        /// The bits qemu 7.2 knows (QCOW2_INCOMPAT_MASK).
        public static let known: UInt64 = 0x1f
    }

    public var clusterSize: UInt64 { 1 << UInt64(clusterBits) }
    public var isDirty: Bool { incompatibleFeatures & IncompatibleFeature.dirty != 0 }
    public var isCorrupt: Bool { incompatibleFeatures & IncompatibleFeature.corrupt != 0 }
    public var hasExtendedL2: Bool { incompatibleFeatures & IncompatibleFeature.extendedL2 != 0 }
    public var hasExternalDataFile: Bool { incompatibleFeatures & IncompatibleFeature.externalDataFile != 0 }
    public var hasRawExternalData: Bool { autoclearFeatures & 2 != 0 }

    /// Readers call this: the header parses (so `info` can describe the image) but its data cannot be read.
    /// qemu resolves a relative data file name against its working directory, not the image's, so following
    /// one could silently read another file; diskimport refuses them instead.
    public func refuseExternalDataFile(name: String) throws {
        guard hasExternalDataFile else { return }
        let file = extensions.dataFileName.map { " (\($0))" } ?? ""
        throw DiskImportError.unsupported("\(name): qcow2: the image keeps its data in an external data file\(file); external data files are not supported")
    }
    public var lazyRefcounts: Bool { compatibleFeatures & 1 != 0 }
    public var refcountBits: UInt64 { 1 << UInt64(refcountOrder) }
    /// Bytes per L2 entry: 16 with extended L2 (descriptor + subcluster bitmap), else 8.
    public var l2EntryBytes: UInt64 { hasExtendedL2 ? 16 : 8 }
    /// log2 of the number of entries in one L2 table (one cluster).
    public var l2Bits: UInt32 { clusterBits - (hasExtendedL2 ? 4 : 3) }
    /// What a guest reads: qemu keeps `size / 512` sectors and drops a partial last one.
    public var guestSize: UInt64 { size & ~511 }
    /// Guest bytes one L1 entry covers.
    public var bytesPerL1Entry: UInt64 { 1 << UInt64(clusterBits + l2Bits) }
    /// "0.10" for version 2, "1.1" for version 3, as qemu-img info says.
    public var compatLevel: String { version == 2 ? "0.10" : "1.1" }

    /// Parses and validates the header in `head`: the first `min(cluster size, file length)` bytes of the image
    /// (`Qcow2Header.headLength(from:)` says how many that is). `fileLength` is the image's length when known.
    /// `name` prefixes error messages.
    public init(head: UnsafeRawBufferPointer, fileLength: UInt64?, name: String) throws {
        func corrupt(_ text: String) -> DiskImportError { .corrupt("\(name): qcow2: \(text)") }
        func unsupported(_ text: String) -> DiskImportError { .unsupported("\(name): qcow2: \(text)") }
        let fields = BigEndianFields(head)
        guard head.count >= 8, fields.u32(0) == Self.magic else { throw corrupt("bad magic (not a qcow2 header)") }
        version = fields.u32(4)
        guard version == 2 || version == 3 else { throw unsupported("version \(version) is not supported (only 2 and 3)") }
        let fixedLength = version == 2 ? Self.version2Length : Self.version3MinimumLength
        guard head.count >= fixedLength else {
            throw corrupt("truncated header: the file holds \(head.count) bytes, a version \(version) header needs \(fixedLength)")
        }
        backingFileOffset = fields.u64(8)
        backingFileSize = fields.u32(16)
        clusterBits = fields.u32(20)
        size = fields.u64(24)
        cryptMethod = fields.u32(32)
        l1Size = fields.u32(36)
        l1TableOffset = fields.u64(40)
        refcountTableOffset = fields.u64(48)
        refcountTableClusters = fields.u32(56)
        snapshotCount = fields.u32(60)
        snapshotsOffset = fields.u64(64)
        headerLength = UInt32(Self.version2Length)

        guard (9...21).contains(clusterBits) else { throw unsupported("unsupported cluster size 2^\(clusterBits) (qemu reads 2^9 to 2^21)") }
        if version == 3 {
            incompatibleFeatures = fields.u64(72)
            compatibleFeatures = fields.u64(80)
            autoclearFeatures = fields.u64(88)
            refcountOrder = fields.u32(96)
            headerLength = fields.u32(100)
            guard headerLength >= Self.version3MinimumLength else { throw corrupt("header_length \(headerLength) is shorter than 104") }
            guard headerLength % 8 == 0 else { throw corrupt("header_length \(headerLength) is not a multiple of 8") }
        }
        guard UInt64(headerLength) <= clusterSize else {
            throw corrupt("header_length \(headerLength) exceeds the cluster size (\(clusterSize))")
        }
        if let fileLength, fileLength < UInt64(headerLength) {
            throw corrupt("truncated header: the file holds \(fileLength) bytes, the header is \(headerLength)")
        }
        guard backingFileOffset <= clusterSize else { throw corrupt("backing file name offset \(backingFileOffset) lies outside the first cluster") }

        if headerLength > UInt32(Self.version3MinimumLength) {
            let raw = head.count > 104 ? head[104] : 0
            guard let type = Qcow2CompressionType(rawValue: raw) else { throw unsupported("unknown compression type \(raw)") }
            compressionType = type
        }
        let compressionBit = incompatibleFeatures & IncompatibleFeature.compressionType != 0
        if compressionType == .zlib && compressionBit {
            throw corrupt("the compression type feature bit is set but the compression type is zlib")
        }
        if compressionType != .zlib && !compressionBit {
            throw corrupt("the compression type is \(compressionType) but its incompatible feature bit is not set")
        }

        // Extensions run from the end of the header to the backing file name, or to the end of the first cluster.
        let extensionsEnd = backingFileOffset != 0 ? backingFileOffset : clusterSize
        extensions = try Qcow2HeaderExtensions(
            head: head, from: UInt64(headerLength), to: extensionsEnd, clusterSize: clusterSize, name: name)
        extensions.bitmaps = try extensions.bitmaps?.validated(autoclearFeatures: autoclearFeatures, clusterSize: clusterSize, name: name)

        let unknown = incompatibleFeatures & ~IncompatibleFeature.known
        if unknown != 0 {
            throw unsupported("unsupported incompatible feature(s): \(extensions.describeIncompatible(bits: unknown))")
        }
        if hasExtendedL2 && clusterBits < 14 {
            throw corrupt("extended L2 entries need clusters of at least 16 KiB (subclusters of 512 bytes); this image has \(clusterSize)-byte clusters")
        }
        guard refcountOrder <= 6 else { throw corrupt("refcount_order \(refcountOrder) exceeds 6 (64-bit refcounts)") }
        if cryptMethod != 0 {
            let method = cryptMethod == 1 ? "AES" : cryptMethod == 2 ? "LUKS" : "method \(cryptMethod)"
            throw unsupported("the image is encrypted (\(method)); encrypted qcow2 is not supported")
        }
        if extensions.hasEncryptionHeader {
            throw corrupt("the image carries an encryption (LUKS) header extension but no encryption method")
        }
        if hasRawExternalData && !hasExternalDataFile {
            throw corrupt("the raw external data bit is set but there is no external data file")
        }

        guard refcountTableClusters != 0 else { throw corrupt("the image has no refcount table (refcount_table_clusters is 0)") }
        try Self.validateTable(offset: refcountTableOffset, entries: UInt64(refcountTableClusters), entryBytes: clusterSize,
                               maxBytes: Self.maxRefcountTableBytes, what: "refcount table", clusterSize: clusterSize, corrupt)
        try Self.validateTable(offset: snapshotsOffset, entries: UInt64(snapshotCount), entryBytes: 40,
                               maxBytes: Self.maxSnapshotTableBytes, what: "snapshot table", clusterSize: clusterSize, readAtOpen: false, corrupt)
        try Self.validateTable(offset: l1TableOffset, entries: UInt64(l1Size), entryBytes: 8,
                               maxBytes: Self.maxL1Bytes, what: "active L1 table", clusterSize: clusterSize, corrupt)
        // The L1 table must cover the virtual size (qemu's size_to_l1).
        let perEntry = bytesPerL1Entry
        let needed = size / perEntry + (size % perEntry == 0 ? 0 : 1)
        guard needed <= UInt64(Int32.max) else { throw unsupported("virtual size \(size) is too big") }
        guard UInt64(l1Size) >= needed else {
            throw corrupt("the L1 table (\(l1Size) entries) is too small for the virtual size \(size) (needs \(needed))")
        }

        if backingFileOffset != 0 {
            let room = min(1023, clusterSize - backingFileOffset)
            guard UInt64(backingFileSize) <= room else { throw corrupt("backing file name too long (\(backingFileSize) bytes)") }
            let start = Int(backingFileOffset), end = start + Int(backingFileSize)
            var nameBytes = [UInt8](repeating: 0, count: Int(backingFileSize))
            // Bytes past the head read (a file cut inside the name) read as zeros, as qemu's short reads do.
            for i in start..<max(start, min(end, head.count)) { nameBytes[i - start] = head[i] }
            // qemu keeps the name as a C string: it ends at the first NUL.
            if let nul = nameBytes.firstIndex(of: 0) { nameBytes.removeSubrange(nul...) }
            extensions.backingFileName = String(decoding: nameBytes, as: UTF8.self)
        }
    }

    /// qemu's `qcow2_validate_table`: the table fits its limit, ends below 2^63, and starts on a cluster boundary.
    static func validateTable(offset: UInt64, entries: UInt64, entryBytes: UInt64, maxBytes: UInt64, what: String,
                              clusterSize: UInt64, readAtOpen: Bool = true, _ corrupt: (String) -> DiskImportError) throws {
        guard entries <= maxBytes / entryBytes else {
            throw corrupt("\(what) too large (\(entries) entries of \(entryBytes) bytes; the limit is \(maxBytes) bytes)")
        }
        let bytes = entries * entryBytes
        guard UInt64(Int64.max) - bytes >= offset, offset % clusterSize == 0 else {
            throw corrupt("\(what) offset 0x\(String(offset, radix: 16)) is invalid")
        }
        if readAtOpen && bytes > 0 && offset + bytes > maxReadableOffset {
            throw corrupt("\(what) at 0x\(String(offset, radix: 16)) lies beyond the largest readable file offset")
        }
    }

    /// How many leading bytes of the image `init(head:)` needs, from at least the first 24 bytes:
    /// the whole first cluster (header, extensions and backing file name all live there).
    /// Returns 104 when the head is not a plausible qcow2 header, so that `init` reports the problem.
    public static func headLength(from prefix: UnsafeRawBufferPointer) -> Int {
        let fields = BigEndianFields(prefix)
        guard prefix.count >= 24 else { return version3MinimumLength }
        let bits = fields.u32(20)
        return (9...21).contains(bits) ? 1 << Int(bits) : version3MinimumLength
    }
}

/// The compression used by compressed clusters (header byte 104).
public enum Qcow2CompressionType: UInt8, Sendable, CustomStringConvertible {
    case zlib = 0
    case zstd = 1

    public var description: String { self == .zlib ? "zlib" : "zstd" }
}

/// Big-endian integers at byte offsets of a buffer; bytes past its end read as zeros (as qemu's reads past
/// the end of a file do).
struct BigEndianFields {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func u32(_ offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(byte(offset + i)) }
        return value
    }

    func u64(_ offset: Int) -> UInt64 {
        UInt64(u32(offset)) << 32 | UInt64(u32(offset + 4))
    }

    func byte(_ offset: Int) -> UInt8 {
        offset >= 0 && offset < bytes.count ? bytes[offset] : 0
    }
}
