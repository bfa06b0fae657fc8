import CLinux
import CXxhash
import DiskImportCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The 4 KiB data blocks of earlier volumes (`--reference OLD`), by content: for a block the import is about to
/// write, where the same bytes may already lie in one of them, so that the target shares them (FICLONERANGE)
/// instead of storing them again.
///
/// Only the references' data extents (lseek SEEK_DATA / SEEK_HOLE) are read, and their zero blocks are left out:
/// a file target never stores a zero block. A hit is only a candidate: `ReferenceSharing` compares the bytes before
/// it clones, so a hash collision costs one read, never a corrupt block.
///
/// Memory: one 24-byte entry (a 128-bit XXH3 hash and a location) per data block in one sorted array, and a 4-byte
/// bucket start per entry: 1 GB of data is 256k blocks, 7 MiB. Entries stop at `maximumEntries` (64 MiB of them,
/// 2.8M blocks, about 11 GB of reference data); past it the rest of the references is not indexed and shares nothing,
/// so memory stays bounded whatever their size. A 100 GB reference (26M blocks) would need 730 MB this way; to share
/// all of it within the same budget the index would keep 64 bits of the hash (the bytes are compared anyway) and a
/// 5-byte location in an on-disk sorted file read through mmap, with a Bloom filter of ~10 bits a block (32 MB) in
/// memory to skip the lookups of new blocks; or index 16 KiB blocks (a quarter of the entries, at some loss of
/// sharing where files are smaller or unaligned).
public final class ReferenceIndex: Sendable {
    /// The unit of sharing: qemu-img's and the target's zero-block granularity, and the page size.
    static let blockSize = 4096

    /// 24 bytes: the block's hash and where it is (reference number in the top 16 bits, block number below).
    struct Entry: Sendable {
        var high: UInt64
        var low: UInt64
        var location: UInt64

        var reference: Int { Int(location >> 48) }
        var blockNumber: UInt64 { location & (1 << 48 - 1) }
    }

    /// The references, open for reading, in the order given.
    let files: [ReferenceFile]
    private let entries: [Entry]
    /// `buckets(of:)`: the start of each bucket in `entries`, and the shift that gives a hash's bucket.
    private let directory: [UInt32]
    private let directoryShift: UInt64
    /// Bits of the hash kept; below 128 only for the tests that force collisions (DISKIMPORT_TEST_REFERENCE_HASH_BITS).
    private let hashBits: Int

    /// The bound on entries described above.
    static let maximumEntries = (64 << 20) / MemoryLayout<Entry>.stride

    /// A reference volume: its path (for errors) and descriptor, closed with the index.
    struct ReferenceFile: Sendable {
        let path: String
        let fd: FileDescriptor
    }

    /// Reads and hashes the data blocks of `files`, which stay open until the index is released.
    init(files: [ReferenceFile], maximumEntries: Int = ReferenceIndex.maximumEntries) throws {
        self.files = files
        hashBits = min(128, MeasurementKnob.positiveInteger("DISKIMPORT_TEST_REFERENCE_HASH_BITS") ?? 128)
        var entries: [Entry] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: Self.blockSize)
        defer { buffer.deallocate() }
        reading: for (number, file) in files.enumerated() {
            for extent in try Self.dataExtents(of: file) {
                var offset = extent.lowerBound
                while offset < extent.upperBound {
                    let count = Int(min(UInt64(Self.readSize), extent.upperBound - offset))
                    try Self.readAll(file, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]), at: offset)
                    for start in stride(from: 0, to: count, by: Self.blockSize) {
                        let block = UnsafeRawBufferPointer(rebasing: buffer[start..<start + Self.blockSize])
                        if ZeroScan.isZero(block) { continue }
                        guard entries.count < maximumEntries else { break reading }
                        let (high, low) = Self.hash(block, bits: hashBits)
                        let blockNumber = (offset + UInt64(start)) / UInt64(Self.blockSize)
                        entries.append(Entry(high: high, low: low, location: UInt64(number) << 48 | blockNumber))
                    }
                    offset += UInt64(count)
                }
            }
        }
        entries.sort { ($0.high, $0.low, $0.location) < ($1.high, $1.low, $1.location) }
        self.entries = entries
        (directory, directoryShift) = Self.buckets(of: entries)
    }

    deinit { for file in files { try? file.fd.close() } }

    /// Blocks indexed.
    var count: Int { entries.count }

    /// The hash of one block as the index keeps it.
    func hash(_ block: UnsafeRawBufferPointer) -> (UInt64, UInt64) { Self.hash(block, bits: hashBits) }

    /// A location of a block with this hash, preferring `preferred` (the block after the previous match, so that
    /// runs stay contiguous when the same bytes occur more than once); nil when no indexed block has it.
    func candidate(high: UInt64, low: UInt64, preferred: UInt64?) -> Entry? {
        let bucket = Int(truncatingIfNeeded: high >> directoryShift)
        var i = Int(directory[bucket]), end = Int(directory[bucket + 1])
        while i < end, (entries[i].high, entries[i].low) < (high, low) { i += 1 }
        guard i < end, entries[i].high == high, entries[i].low == low else { return nil }
        let first = i
        if let preferred {
            // Equal hashes are rare unless the bytes repeat; a few steps find the continuation or give up.
            end = min(end, first + 16)
            while i < end, entries[i].high == high, entries[i].low == low {
                if entries[i].location == preferred { return entries[i] }
                i += 1
            }
        }
        return entries[first]
    }

    /// Where each bucket of entries starts, by the top bits of the hash: a lookup reads the directory and about one
    /// entry (two cache misses) instead of the ~18 of a binary search over 256k entries. 4 bytes per bucket, about one
    /// bucket per entry: 1 MiB per GB of data.
    private static func buckets(of entries: [Entry]) -> (directory: [UInt32], shift: UInt64) {
        var bits = 1
        while 1 << bits < entries.count, bits < 30 { bits += 1 }
        let shift = UInt64(64 - bits)
        var directory = [UInt32](repeating: 0, count: (1 << bits) + 1)
        for entry in entries { directory[Int(entry.high >> shift) + 1] += 1 }
        for bucket in 0..<(1 << bits) { directory[bucket + 1] += directory[bucket] }
        return (directory, shift)
    }

    /// Reads of the references while indexing: large enough that the per-call cost vanishes, small in memory.
    private static let readSize = 1 << 20

    private static func hash(_ block: UnsafeRawBufferPointer, bits: Int) -> (UInt64, UInt64) {
        let h = XXH3_128bits(block.baseAddress, block.count)
        guard bits < 128 else { return (h.high64, h.low64) }
        // Test knob: keep the top `bits` bits so that unrelated blocks collide.
        return bits >= 64 ? (h.high64, h.low64 & ~(UInt64.max >> (bits - 64))) : (h.high64 & ~(UInt64.max >> bits), 0)
    }

    /// The file's data extents, cut to whole 4 KiB blocks inside its length (a clone must not reach past its end).
    private static func dataExtents(of file: ReferenceFile) throws -> [Range<UInt64>] {
        var st = Glibc.stat()
        guard fstat(file.fd.rawValue, &st) == 0 else { throw DiskImportError.io("stat reference", file.path, Errno(rawValue: errno)) }
        let end = UInt64(st.st_size) / UInt64(blockSize) * UInt64(blockSize)
        var extents: [Range<UInt64>] = []
        var position: Int64 = 0
        while UInt64(position) < end {
            let data = clinux_seek_data(file.fd.rawValue, position)
            if data < 0 {
                if errno == ENXIO { break }
                throw DiskImportError.io("seek data in reference", file.path, Errno(rawValue: errno))
            }
            let hole = clinux_seek_hole(file.fd.rawValue, data)
            guard hole >= 0 else { throw DiskImportError.io("seek hole in reference", file.path, Errno(rawValue: errno)) }
            let lower = UInt64(data) / UInt64(blockSize) * UInt64(blockSize)
            let upper = min(end, (UInt64(hole) + UInt64(blockSize) - 1) / UInt64(blockSize) * UInt64(blockSize))
            if lower < upper { extents.append(lower..<upper) }
            position = Int64(upper) > position ? Int64(max(upper, UInt64(hole))) : position + Int64(blockSize)
        }
        return extents
    }

    /// pread(2) of exactly `buffer.count` bytes; a reference that shrinks while it is read is an error.
    static func readAll(_ file: ReferenceFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(file.fd.rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DiskImportError.io("read reference", file.path, Errno(rawValue: errno))
            }
            if n == 0 { throw DiskImportError(.io, "read reference \(file.path): it ended at offset \(offset + UInt64(done)) while being read") }
            done += n
        }
    }
}
