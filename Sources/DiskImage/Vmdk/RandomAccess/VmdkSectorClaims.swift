import DiskImportCore

/// Which parts of an extent file the image uses so far: its metadata and every grain a table points to. A second
/// claim on the same bytes means two grain table entries share a grain, or a grain lies in metadata: a damaged or
/// hostile image (qemu would read the same bytes twice), refused with the two uses named.
///
/// One bit per slot of `slotBytes` (a sector; the grain size for uncompressed extents of files over 64 GiB, so the
/// bitmap stays within 2 MiB per 64 GiB of file whatever the file's size).
struct VmdkSectorClaims {
    private var bits: [UInt64]
    private let slotBytes: UInt64
    private let fileLength: UInt64

    init(fileLength: UInt64, grainBytes: UInt64, compressed: Bool) {
        self.fileLength = fileLength
        slotBytes = compressed || fileLength <= 64 << 30 || grainBytes < 512 ? 512 : grainBytes
        let slots = (fileLength + slotBytes - 1) / slotBytes
        bits = [UInt64](repeating: 0, count: Int((slots + 63) / 64))
    }

    /// Marks `range` (clipped to the file) as used by `what`; throws when any part of it is already used.
    mutating func claim(_ range: Range<UInt64>, _ what: @autoclosure () -> String, name: String) throws {
        let end = min(range.upperBound, fileLength)
        guard range.lowerBound < end else { return }
        let first = range.lowerBound / slotBytes, last = (end - 1) / slotBytes
        var slot = first
        while slot <= last {
            let word = Int(slot / 64), bit = slot % 64
            // Whole words at once where the range covers them.
            if bit == 0 && last - slot >= 63 {
                if bits[word] != 0 { throw overlap(what(), range, name) }
                bits[word] = .max
                slot += 64
                continue
            }
            let mask = UInt64(1) << bit
            if bits[word] & mask != 0 { throw overlap(what(), range, name) }
            bits[word] |= mask
            slot += 1
        }
    }

    private func overlap(_ what: String, _ range: Range<UInt64>, _ name: String) -> DiskImportError {
        .corrupt("\(name): vmdk: \(what) at file offset 0x\(String(range.lowerBound, radix: 16)) overlaps data or metadata already in use (grain table entries that overlap)")
    }
}
