import DiskImportCore

/// The layout of the header section, the first MiB of every VHDX file (block/vhdx.h): the file identifier at 0, two
/// copies of the header at 64 and 128 KiB, the region table at 192 KiB (and its copy at 256 KiB, which qemu never
/// reads).
enum VhdxHeaderSection {
    static let size: UInt64 = 1 << 20
    static let headerOffsets: [UInt64] = [64 << 10, 128 << 10]
    /// A header's checksum covers 4 KiB, whatever the structure's own length.
    static let headerLength = 4096
    static let regionTableOffset: UInt64 = 192 << 10
    static let regionTableLength = 64 << 10
}

/// The active header: the copy with the higher sequence number among those whose CRC-32C, signature ("head") and
/// version (1) hold (qemu's vhdx_parse_header).
struct VhdxHeader: Equatable, Sendable {
    var sequenceNumber: UInt64
    var fileWriteGUID: VhdxGUID
    /// Changes with every write a guest could see; a differencing child names its parent by this (parent_linkage).
    var dataWriteGUID: VhdxGUID
    /// Zero when there is no log to replay; log entries count only when they carry this GUID.
    var logGUID: VhdxGUID
    var logVersion: UInt16
    var version: UInt16
    var logLength: UInt32
    var logOffset: UInt64

    init(_ bytes: UnsafeRawBufferPointer) {
        sequenceNumber = bytes.le64(at: 8)
        fileWriteGUID = VhdxGUID(bytes, at: 16)
        dataWriteGUID = VhdxGUID(bytes, at: 32)
        logGUID = VhdxGUID(bytes, at: 48)
        logVersion = bytes.le16(at: 64)
        version = bytes.le16(at: 66)
        logLength = bytes.le32(at: 68)
        logOffset = bytes.le64(at: 72)
    }

    /// The active header of the file in `view`, checked as qemu checks it before it looks at the log
    /// (vhdx_parse_header, and the log fields vhdx_parse_log refuses).
    static func read(from view: VhdxFileView) throws -> VhdxHeader {
        let identifier = try view.read(at: 0, count: 8, what: "file identifier")
        guard identifier.withUnsafeBytes({ $0.hasSignature("vhdxfile") }) else {
            throw DiskImportError.corrupt("\(view.name): vhdx: no \"vhdxfile\" signature at offset 0")
        }
        var valid: [(header: VhdxHeader, raw: [UInt8])] = []
        for offset in VhdxHeaderSection.headerOffsets {
            let raw = try view.read(at: offset, count: VhdxHeaderSection.headerLength, what: "header")
            let header: VhdxHeader? = raw.withUnsafeBytes { bytes in
                guard VhdxChecksum.isValid(bytes, checksumAt: 4), bytes.hasSignature("head") else { return nil }
                let header = VhdxHeader(bytes)
                return header.version == 1 ? header : nil
            }
            valid.append(contentsOf: header.map { [($0, raw)] } ?? [])
        }
        guard let first = valid.first else {
            throw DiskImportError.corrupt("\(view.name): vhdx: no valid header (neither copy, at 64 KiB and 128 KiB, has a good CRC-32C, the \"head\" signature and version 1)")
        }
        var current = first.header
        if valid.count == 2 {
            let (one, two) = (valid[0], valid[1])
            if one.header.sequenceNumber != two.header.sequenceNumber {
                current = one.header.sequenceNumber > two.header.sequenceNumber ? one.header : two.header
            } else if one.raw != two.raw {
                // Equal sequence numbers are accepted only for identical copies (Microsoft's Disk2vhd writes those).
                throw DiskImportError.corrupt("\(view.name): vhdx: both headers have sequence number \(one.header.sequenceNumber) but differ")
            }
        }
        try current.checkLogFields(name: view.name)
        return current
    }

    /// vhdx_parse_log's checks, made whether or not a log is present.
    private func checkLogFields(name: String) throws {
        if logOffset < VhdxHeaderSection.size || logOffset % VhdxHeaderSection.size != 0 {
            throw DiskImportError.corrupt("\(name): vhdx: log offset \(vhdxHex(logOffset)) is not a multiple of 1 MiB past the header section")
        }
        if logVersion != 0 {
            throw DiskImportError.unsupported("\(name): vhdx: log version \(logVersion) (only version 0 is defined)")
        }
        if hasLog && logLength % UInt32(VhdxHeaderSection.size) != 0 {
            throw DiskImportError.corrupt("\(name): vhdx: log length \(logLength) is not a multiple of 1 MiB")
        }
    }

    /// Whether the header points at a log that may hold entries to replay: a non-zero log GUID and length.
    var hasLog: Bool { !logGUID.isZero && logLength != 0 }

    /// The log's place in the file (qemu registers it even when the log is empty, so no region may overlap it).
    var logRange: Range<UInt64> { logOffset..<logOffset + UInt64(logLength) }
}
