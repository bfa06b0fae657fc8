import DiskImportCore

/// The 512-byte "hard disk footer" of a vhd (big-endian), as qemu's vpc_open reads it (block/vpc.c): at the end of
/// every image, and copied at offset 0 of dynamic and differencing ones. Parsed from bytes in memory.
public struct VpcFooter: Sendable, Equatable {
    public static let length = 512
    static let cookie = Array("conectix".utf8)
    /// block/vpc.c VHD_MAX_GEOMETRY (65535 cylinders, 16 heads, 255 sectors) and VHD_MAX_SECTORS (2040 GiB).
    static let maximumGeometry: UInt64 = 65535 * 16 * 255
    static let maximumSectors: UInt64 = 0xff00_0000

    public enum DiskType: UInt32, Sendable {
        case fixed = 2
        case dynamic = 3
        case differencing = 4
    }

    /// Offset of the dynamic disk header (0xffffffffffffffff for a fixed disk).
    public var dataOffset: UInt64
    /// The creator application, four bytes ("qemu", "qem2", "win ", "vpc ", "d2v ", "tap\0").
    public var creatorApplication: [UInt8]
    public var currentSize: UInt64
    public var cylinders: UInt16
    public var heads: UInt8
    public var sectorsPerTrack: UInt8
    public var diskType: UInt32
    public var uniqueID: [UInt8]
    /// The guest size qemu gives the image (`sectors(creatorApplication:currentSize:geometry:)`).
    public let virtualSize: UInt64

    /// Parses and checks the footer in `bytes` (at least 512 bytes); `name` names the image in messages.
    public init(bytes: [UInt8], name: String) throws {
        guard bytes.count >= Self.length, bytes.starts(with: Self.cookie) else {
            throw DiskImportError.corrupt("\(name): vpc: invalid VPC image (no \"conectix\" footer)")
        }
        var footer = Array(bytes[..<Self.length])
        let fields = ByteFields(footer)
        let stored = fields.bigEndian32(64)
        footer.replaceSubrange(64..<68, with: [0, 0, 0, 0])
        // vpc_checksum: the one's complement of the byte sum, with the checksum field zero. qemu refuses a mismatch.
        let computed = ~footer.reduce(UInt32(0)) { $0 &+ UInt32($1) }
        guard computed == stored else {
            throw DiskImportError.corrupt("\(name): vpc: Incorrect header checksum (stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16)))")
        }
        dataOffset = fields.bigEndian64(16)
        creatorApplication = fields.slice(28, 4)
        currentSize = fields.bigEndian64(48)
        cylinders = fields.bigEndian16(56)
        heads = fields.bytes[58]
        sectorsPerTrack = fields.bytes[59]
        diskType = fields.bigEndian32(60)
        uniqueID = fields.slice(68, 16)
        let sectors = Self.sectors(creatorApplication: creatorApplication, currentSize: currentSize,
                                   geometry: UInt64(cylinders) * UInt64(heads) * UInt64(sectorsPerTrack))
        guard sectors <= Self.maximumSectors else {
            throw DiskImportError.unsupported("\(name): vpc: the image's \(sectors) sectors exceed qemu's limit of 2040 GiB (File too large)")
        }
        virtualSize = sectors * 512
    }

    /// qemu 7.2's vpc_open: Virtual PC (and qemu without force_size, creator "qemu") size a disk by its CHS
    /// geometry, which rounds the size; Hyper-V ("win "), qemu with force_size ("qem2"), Disk2vhd ("d2v "),
    /// XenServer ("tap\0") and XenConverter ("CTXS") by `current_size`. Any other creator gets the geometry, unless
    /// the geometry is the maximum one, which says the size did not fit it. (Later qemu turns the default around,
    /// for Azure's "wa\0\0"; 7.2 is the oracle.)
    static func sectors(creatorApplication: [UInt8], currentSize: UInt64, geometry: UInt64) -> UInt64 {
        let bySize: [[UInt8]] = ["win ", "qem2", "d2v ", "CTXS"].map { Array($0.utf8) } + [Array("tap".utf8) + [0]]
        let useGeometry = !bySize.contains(creatorApplication)
        return !useGeometry || geometry == maximumGeometry ? currentSize / 512 : geometry
    }

    /// The creator application as text, for info.
    public var creatorApplicationText: String {
        String(decoding: creatorApplication.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
    }
}
