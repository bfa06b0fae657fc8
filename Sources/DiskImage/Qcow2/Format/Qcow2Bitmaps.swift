import DiskImportCore

/// The bitmaps header extension (docs/interop/qcow2.txt "Bitmaps extension"): where the bitmap directory is.
/// Checked as qemu 7.2's `qcow2_read_extensions` checks it (block/qcow2.c): the length always; the rest only when
/// the autoclear bit says the extension is valid, else qemu ignores the bitmaps.
public struct Qcow2BitmapsExtension: Sendable, Equatable {
    /// qemu's QCOW2_MAX_BITMAPS and QCOW2_MAX_BITMAP_DIRECTORY_SIZE.
    static let maxBitmaps: UInt32 = 65535
    static let maxDirectoryBytes: UInt64 = 1024 * UInt64(maxBitmaps)
    static let length: UInt64 = 24

    public var count: UInt32
    public var directorySize: UInt64
    public var directoryOffset: UInt64

    var reserved: UInt32

    init(_ fields: BigEndianFields, at start: Int, length: UInt64, name: String) throws {
        guard length == Self.length else {
            throw DiskImportError.corrupt("\(name): qcow2: bitmaps extension: invalid length \(length) (it is \(Self.length) bytes)")
        }
        count = fields.u32(start)
        reserved = fields.u32(start + 4)
        directorySize = fields.u64(start + 8)
        directoryOffset = fields.u64(start + 16)
    }

    /// The extension when the bitmaps autoclear bit (bit 0) of `autoclearFeatures` is set, after checking it; nil
    /// when the bit is clear (a program that does not know bitmaps wrote the image since: qemu ignores them).
    func validated(autoclearFeatures: UInt64, clusterSize: UInt64, name: String) throws -> Qcow2BitmapsExtension? {
        guard autoclearFeatures & 1 != 0 else { return nil }
        func corrupt(_ text: String) -> DiskImportError { .corrupt("\(name): qcow2: bitmaps extension: \(text)") }
        guard reserved == 0 else { throw corrupt("the reserved field is not zero") }
        guard count != 0 else { throw corrupt("no bitmaps in the extension") }
        guard count <= Self.maxBitmaps else { throw corrupt("\(count) bitmaps (qemu allows \(Self.maxBitmaps))") }
        guard directoryOffset % clusterSize == 0 else { throw corrupt("the bitmap directory offset is not cluster aligned") }
        guard directorySize <= Self.maxDirectoryBytes else {
            throw corrupt("the bitmap directory (\(directorySize) bytes) exceeds \(Self.maxDirectoryBytes) bytes")
        }
        return self
    }
}

/// A persistent dirty bitmap from the bitmap directory, as `qemu-img info` lists it under format-specific. Bitmaps
/// do not change what a guest reads: only `info` reads them.
public struct Qcow2Bitmap: Sendable, Equatable {
    public var name: String
    public var granularity: UInt64
    /// The bitmap is being changed by a running qemu (or was when it stopped): its contents are inconsistent.
    public var inUse: Bool
    /// qemu enables the bitmap on open and tracks writes in it.
    public var auto: Bool

    static let flagInUse: UInt32 = 1 << 0
    static let flagAuto: UInt32 = 1 << 1
    static let flagExtraDataCompatible: UInt32 = 1 << 2
    static let dirtyTrackingType: UInt8 = 1
    /// qemu's BME_MAX_TABLE_SIZE, BME_MIN/MAX_GRANULARITY_BITS and BME_MAX_NAME_SIZE.
    static let maxTableSize: UInt32 = 0x800_0000
    static let granularityBits: ClosedRange<UInt8> = 9...31
    static let maxNameSize: UInt16 = 1023
}

/// Reading the bitmap directory as qemu 7.2's `bitmap_list_load` (block/qcow2-bitmap.c) does for info.
public enum Qcow2BitmapDirectory {
    /// The persistent bitmaps of the image whose header is `header`, read from `source`; nil when the image has none
    /// that qemu would list: no valid extension (see `Qcow2BitmapsExtension.validated`), or a version 2 image
    /// (qemu-img info shows bitmaps only for version 3).
    public static func read(from source: RandomAccessSource, header: Qcow2Header) throws -> [Qcow2Bitmap]? {
        guard let ext = header.extensions.bitmaps, header.version >= 3 else { return nil }
        let name = source.displayName
        func corrupt(_ text: String) -> DiskImportError { .corrupt("\(name): qcow2: bitmap directory: \(text)") }
        guard ext.directorySize > 0 else { throw corrupt("it is empty") }
        var directory = [UInt8](repeating: 0, count: Int(ext.directorySize))
        try directory.withUnsafeMutableBytes { try source.readExactly(at: ext.directoryOffset, into: $0, what: "the bitmap directory") }
        return try directory.withUnsafeBytes { raw in
            let fields = BigEndianFields(raw)
            var bitmaps: [Qcow2Bitmap] = []
            var offset = 0
            while offset < raw.count {
                guard raw.count - offset >= 24 else { throw corrupt("an entry is cut off at the end of the directory") }
                let tableOffset = fields.u64(offset), tableSize = fields.u32(offset + 8), flags = fields.u32(offset + 12)
                let type = fields.byte(offset + 16), granularityBits = fields.byte(offset + 17)
                let nameSize = fields.u16(offset + 18), extraSize = fields.u32(offset + 20)
                let entryBytes = (24 + Int(extraSize) + Int(nameSize) + 7) & ~7
                guard extraSize <= UInt32(raw.count), entryBytes <= raw.count - offset else {
                    throw corrupt("an entry runs past the end of the directory")
                }
                let nameStart = offset + 24 + Int(extraSize)
                let bitmapName = String(decoding: raw[nameStart..<nameStart + Int(nameSize)], as: UTF8.self)
                let valid = tableSize != 0 && tableOffset != 0 && tableOffset % header.clusterSize == 0
                    && tableSize <= Qcow2Bitmap.maxTableSize && Qcow2Bitmap.granularityBits.contains(granularityBits)
                    && flags & ~(Qcow2Bitmap.flagInUse | Qcow2Bitmap.flagAuto | Qcow2Bitmap.flagExtraDataCompatible) == 0
                    && nameSize != 0 && nameSize <= Qcow2Bitmap.maxNameSize && type == Qcow2Bitmap.dirtyTrackingType
                    && (extraSize == 0 || flags & Qcow2Bitmap.flagExtraDataCompatible != 0)
                guard valid else { throw corrupt("bitmap '\(bitmapName)' does not satisfy the constraints") }
                bitmaps.append(Qcow2Bitmap(name: bitmapName, granularity: 1 << UInt64(granularityBits),
                                           inUse: flags & Qcow2Bitmap.flagInUse != 0, auto: flags & Qcow2Bitmap.flagAuto != 0))
                offset += entryBytes
            }
            guard bitmaps.count == Int(ext.count) else {
                throw corrupt("it holds \(bitmaps.count) bitmaps, the header extension says \(ext.count)")
            }
            return bitmaps
        }
    }
}

extension Qcow2Bitmap {
    /// qemu's Qcow2BitmapInfo flags: "in-use" and "auto", in that order.
    var flagNames: [String] { (inUse ? ["in-use"] : []) + (auto ? ["auto"] : []) }

    /// An entry of format-specific `bitmaps` in qemu-img info --output json.
    public var json: JSON {
        .object([("flags", .array(flagNames.map { .string($0) })), ("name", .string(name)),
                 ("granularity", .number(Double(granularity)))])
    }

    /// The `bitmaps:` entry of qemu-img info's "Format specific information:" (dump_qobject's layout: a list item
    /// is `[i]:`, keys have spaces for dashes, four spaces per level), relative to the format-specific level.
    public static func humanLines(_ bitmaps: [Qcow2Bitmap]) -> [String] {
        var lines = ["bitmaps:"]
        for (index, bitmap) in bitmaps.enumerated() {
            lines.append("    [\(index)]:")
            lines.append("        flags:")
            for (flag, text) in bitmap.flagNames.enumerated() { lines.append("            [\(flag)]: \(text)") }
            lines.append("        name: \(bitmap.name)")
            lines.append("        granularity: \(bitmap.granularity)")
        }
        return lines
    }
}
