import DiskImportCore

/// The metadata log (block/vhdx-log.c): a circular buffer of 4 KiB sectors holding entries that may still have to
/// be written into the file. qemu looks for an active sequence of valid entries (vhdx_log_search) whenever the
/// header names a log (a non-zero log GUID and length); it replays one when it opens the image read-write and
/// refuses a read-only open ("VHDX image file '%s' opened read-only, but contains a log that needs to be replayed"),
/// which is how `qemu-img convert` and `qemu-img info` open their source. A log GUID without a valid entry (the
/// entries' GUID differs, a checksum fails) is no log to replay: qemu reads the image as it is, and so does this.
enum VhdxLog {
    static let sectorSize = 4096
    /// The most log bytes read into memory (qemu-img writes 1 MiB logs; Hyper-V's are 1 MiB too).
    static let maxBytes: UInt32 = 64 << 20

    /// What vhdx_log_search found: an active sequence starting at `tail`, with the sequence number of its first entry.
    struct Sequence: Equatable {
        var tail: Int
        var sequenceNumber: UInt64
        var count: Int
    }

    /// Refuses an image whose log holds entries to replay, as `qemu-img convert` does, saying how to replay them.
    static func refuseReplay(header: VhdxHeader, view: VhdxFileView) throws {
        guard header.hasLog else { return }
        guard header.logLength <= maxBytes else {
            throw DiskImportError(.limit, "\(view.name): vhdx: the log is \(header.logLength) bytes, more than the \(maxBytes >> 20) MiB this reader holds in memory")
        }
        let log = try view.read(at: header.logOffset, count: Int(header.logLength), what: "log")
        guard let sequence = try search(log, guid: header.logGUID, name: view.name) else { return }
        throw DiskImportError.unsupported("\(view.name): vhdx: the image contains a log that needs to be replayed (\(sequence.count) entr\(sequence.count == 1 ? "y" : "ies") from sequence number \(sequence.sequenceNumber)), which qemu-img refuses on a read-only open too; replay it with `qemu-img check -r all` on a writable copy first")
    }

    /// qemu's vhdx_log_search over the log's bytes: the active sequence with the highest first sequence number, or
    /// nil. A valid entry header whose descriptors are invalid is an error (qemu fails the open).
    static func search(_ log: [UInt8], guid: VhdxGUID, name: String) throws -> Sequence? {
        try log.withUnsafeBytes { bytes in
            var read = 0
            var candidate: Sequence?
            while true {
                let tail = read
                var current: Sequence?
                if let first = try entry(bytes, at: &read, previous: 0, guid: guid, name: name) {
                    current = Sequence(tail: tail, sequenceNumber: first, count: 1)
                    // vhdx_log_search passes a sequence number of 0 to the first call of this loop too.
                    var previous: UInt64 = 0
                    while let next = try entry(bytes, at: &read, previous: previous, guid: guid, name: name) {
                        current!.count += 1
                        previous = next
                    }
                }
                if let current, candidate == nil || current.sequenceNumber > candidate!.sequenceNumber { candidate = current }
                if read < tail { break }
            }
            return candidate
        }
    }

    /// vhdx_validate_log_entry: the sequence number of a valid entry at `read`, moving `read` past it; nil for none
    /// (an invalid header moves `read` one sector on, a checksum mismatch past the sectors read).
    private static func entry(_ log: UnsafeRawBufferPointer, at read: inout Int, previous: UInt64, guid: VhdxGUID,
                              name: String) throws -> UInt64? {
        let length = log.count
        func advance(_ index: Int) -> Int { index + sectorSize >= length ? 0 : index + sectorSize }
        let start = read + 64 > length ? 0 : read
        let entryLength = Int(log.le32(at: start + 8))
        let sequence = log.le64(at: start + 16)
        let descriptors = Int(log.le32(at: start + 24))
        guard log.hasSignature("loge", at: start), entryLength <= length, entryLength % sectorSize == 0, sequence != 0,
              VhdxGUID(log, at: start + 32) == guid, descriptors * 32 <= entryLength,
              previous == 0 || sequence == previous + 1 else {
            read = advance(read)
            return nil
        }
        // The header sector holds 2 descriptors' worth of header and 126 descriptors; later ones 128 each.
        let descriptorSectors = (descriptors + 2 + 127) / 128
        var sectors: [Int] = []
        var index = read
        for _ in 0..<max(descriptorSectors, entryLength / sectorSize) {
            sectors.append(index)
            index = advance(index)
        }
        let descriptorBytes = sectors.prefix(descriptorSectors).flatMap { Array(log[$0..<$0 + sectorSize]) }
        try descriptorBytes.withUnsafeBytes { table in
            for n in 0..<descriptors {
                let at = 64 + 32 * n
                let offsetOK = table.le64(at: at + 16) % UInt64(sectorSize) == 0
                let sequenceOK = table.le64(at: at + 24) == sequence
                let kindOK = table.hasSignature("desc", at: at)
                    || (table.hasSignature("zero", at: at) && table.le64(at: at + 8) % UInt64(sectorSize) == 0)
                guard offsetOK, sequenceOK, kindOK else {
                    throw DiskImportError.corrupt("\(name): vhdx: log entry \(sequence) has an invalid descriptor \(n)")
                }
            }
        }
        read = index
        // The checksum covers the whole entry with its own field taken as zero (vhdx_checksum_calc).
        var whole = descriptorBytes
        whole.replaceSubrange(4..<8, with: [0, 0, 0, 0])
        for sector in sectors.dropFirst(descriptorSectors) { whole += log[sector..<sector + sectorSize] }
        let stored = descriptorBytes.le32(at: 4)
        let computed = whole.withUnsafeBytes { VhdxChecksum.crc32c($0) }
        return computed == stored ? sequence : nil
    }
}
