import DiskImportCore

/// What the qcow2 header extensions say: `(u32 type, u32 length, data padded to 8)` records from the end of the
/// header up to the backing file name (or the end of the first cluster), ending at type 0 (qemu's
/// `qcow2_read_extensions`). Unknown types are skipped.
public struct Qcow2HeaderExtensions: Sendable, Equatable {
    static let backingFormatType: UInt32 = 0xe279_2aca
    static let featureNameTableType: UInt32 = 0x6803_f857
    static let encryptionHeaderType: UInt32 = 0x0537_be77
    static let bitmapsType: UInt32 = 0x2385_2875
    static let dataFileType: UInt32 = 0x4441_5441

    /// The backing file's format ("qcow2", "raw"), when the image names it.
    public var backingFormat: String?
    /// The backing file name from the header (not an extension, but read with them).
    public var backingFileName: String?
    /// The external data file name, when there is one.
    public var dataFileName: String?
    public var hasEncryptionHeader = false
    /// Where the persistent bitmaps are (read by `info` only: Qcow2BitmapDirectory).
    public var bitmaps: Qcow2BitmapsExtension?
    /// Feature names the image itself declares: (type, bit) -> name. Type 0 is incompatible.
    public var featureNames: [FeatureKey: String] = [:]

    public struct FeatureKey: Hashable, Sendable {
        public var type: UInt8
        public var bit: UInt8
    }

    public init() {}

    init(head: UnsafeRawBufferPointer, from start: UInt64, to end: UInt64, clusterSize: UInt64, name: String) throws {
        let fields = BigEndianFields(head)
        var offset = start
        while offset < end {
            // Offsets stay within the first cluster (end <= cluster size <= 2 MiB), so Int conversions are safe.
            let type = fields.u32(Int(offset))
            let length = UInt64(fields.u32(Int(offset) + 4))
            offset += 8
            guard offset <= end, length <= end - offset else {
                throw DiskImportError.corrupt("\(name): qcow2: header extension 0x\(String(type, radix: 16)) is too large (\(length) bytes)")
            }
            let data = Int(offset)..<Int(offset + length)
            switch type {
            case 0:
                return
            case Self.backingFormatType:
                guard length < 16 else {
                    throw DiskImportError.corrupt("\(name): qcow2: backing format extension too long (\(length) bytes)")
                }
                backingFormat = Self.cString(fields, data)
            case Self.featureNameTableType:
                var entry = data.lowerBound
                while entry + 48 <= data.upperBound {
                    let key = FeatureKey(type: fields.byte(entry), bit: fields.byte(entry + 1))
                    featureNames[key] = Self.cString(fields, entry + 2..<entry + 48)
                    entry += 48
                }
            case Self.encryptionHeaderType:
                hasEncryptionHeader = true
            case Self.bitmapsType:
                bitmaps = try Qcow2BitmapsExtension(fields, at: data.lowerBound, length: length, name: name)
            case Self.dataFileType:
                dataFileName = Self.cString(fields, data)
            default:
                break
            }
            offset += (length + 7) & ~7
        }
    }

    /// Names the incompatible feature `bits`, using the image's own feature name table where it has one.
    func describeIncompatible(bits: UInt64) -> String {
        var names: [String] = []
        for bit in 0..<64 where bits & (1 << UInt64(bit)) != 0 {
            if let name = featureNames[FeatureKey(type: 0, bit: UInt8(bit))], !name.isEmpty {
                names.append("\(name) (bit \(bit))")
            } else {
                names.append("unknown bit \(bit)")
            }
        }
        return names.joined(separator: ", ")
    }

    private static func cString(_ fields: BigEndianFields, _ range: Range<Int>) -> String {
        var bytes: [UInt8] = []
        for i in range {
            let b = fields.byte(i)
            if b == 0 { break }
            bytes.append(b)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
