import DiskImportCore

/// Where the BAT and the metadata region lie, from the region table at 192 KiB (qemu's vhdx_open_region_tables).
struct VhdxRegionTable: Sendable {
    var bat: Range<UInt64>
    var metadata: Range<UInt64>

    /// The most entries a region table holds (MS-VHDX 2.2.3).
    static let maxEntries: UInt32 = 2047

    /// Reads and checks the region table: its CRC-32C over 64 KiB, the "regi" signature, at most 2047 entries, no
    /// two regions (nor a region and the log) overlapping, exactly one BAT and one metadata region, and no other
    /// region marked required. Regions must also lie inside the file when its length is known.
    static func read(from view: VhdxFileView, log: Range<UInt64>) throws -> VhdxRegionTable {
        let raw = try view.read(at: VhdxHeaderSection.regionTableOffset, count: VhdxHeaderSection.regionTableLength, what: "region table")
        return try raw.withUnsafeBytes { bytes in
            guard VhdxChecksum.isValid(bytes, checksumAt: 4) else {
                throw DiskImportError.corrupt("\(view.name): vhdx: the region table's CRC-32C does not match")
            }
            guard bytes.hasSignature("regi") else {
                throw DiskImportError.corrupt("\(view.name): vhdx: no \"regi\" signature at the region table (offset 192 KiB)")
            }
            let count = bytes.le32(at: 8)
            guard count <= maxEntries else {
                throw DiskImportError.corrupt("\(view.name): vhdx: the region table has \(count) entries (at most \(maxEntries))")
            }
            var taken: [(range: Range<UInt64>, what: String)] = log.isEmpty ? [] : [(log, "the log")]
            var bat: Range<UInt64>?, metadata: Range<UInt64>?
            for index in 0..<Int(count) {
                let entry = 16 + 32 * index
                let guid = VhdxGUID(bytes, at: entry)
                let offset = bytes.le64(at: entry + 16), length = UInt64(bytes.le32(at: entry + 24))
                let required = bytes.le32(at: entry + 28) & 1 != 0
                let what = guid == .batRegion ? "the BAT region" : guid == .metadataRegion ? "the metadata region" : "region \(guid)"
                let (end, overflow) = offset.addingReportingOverflow(length)
                if overflow { throw DiskImportError.corrupt("\(view.name): vhdx: \(what) at \(vhdxHex(offset)) ends past 2^64") }
                let range = offset..<end
                if let clash = taken.first(where: { $0.range.overlaps(range) }) {
                    throw DiskImportError.corrupt("\(view.name): vhdx: \(what) (\(vhdxHex(offset)), \(length) bytes) overlaps \(clash.what) (\(vhdxHex(clash.range.lowerBound)), \(clash.range.count) bytes)")
                }
                taken.append((range, what))
                switch guid {
                case .batRegion:
                    if bat != nil { throw DiskImportError.corrupt("\(view.name): vhdx: the region table has two BAT regions") }
                    bat = range
                case .metadataRegion:
                    if metadata != nil { throw DiskImportError.corrupt("\(view.name): vhdx: the region table has two metadata regions") }
                    metadata = range
                default:
                    if required {
                        throw DiskImportError.unsupported("\(view.name): vhdx: the region table has a required region of unknown type \(guid)")
                    }
                }
            }
            guard let bat else { throw DiskImportError.corrupt("\(view.name): vhdx: the region table has no BAT region") }
            guard let metadata else { throw DiskImportError.corrupt("\(view.name): vhdx: the region table has no metadata region") }
            if let length = view.length {
                for (range, what) in [(bat, "BAT region"), (metadata, "metadata region")] where range.upperBound > length {
                    throw DiskImportError.corrupt("\(view.name): vhdx: the \(what) (\(vhdxHex(range.lowerBound)), \(range.count) bytes) lies past the end of the file (\(length) bytes)")
                }
            }
            return VhdxRegionTable(bat: bat, metadata: metadata)
        }
    }
}
