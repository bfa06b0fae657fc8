import Dispatch
import DiskImportCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// How a file target stores its data runs when it has references (`--reference OLD`): every whole 4 KiB block,
/// aligned in the guest, whose bytes lie somewhere in a reference is cloned from there (FICLONERANGE takes any
/// source offset, so a rebuilt filesystem that moved its files still shares); the rest is written.
///
/// The bytes of each candidate are compared with the reference (one pread of the old block) before it is cloned: the
/// hash only says where to look, so a collision never corrupts. Adjacent matches whose sources are adjacent too are
/// one clone (one ioctl per run); adjacent misses are one write. Safe to call from several threads for disjoint
/// ranges: the index is read-only and each call keeps its own state.
///
/// The references must not change during the import: a block changed between its comparison and its clone would be
/// shared as it is then. They are earlier volumes, which nothing writes.
final class ReferenceSharing: Sendable {
    let index: ReferenceIndex
    private let reflink: Reflink
    /// Counts the bytes cloned from the references (`sharedWithReferenceBytes`).
    private let progress: TransferProgress

    init(index: ReferenceIndex, reflink: Reflink, progress: TransferProgress) {
        self.index = index
        self.reflink = reflink
        self.progress = progress
    }

    private static let block = ReferenceIndex.blockSize
    /// The most bytes of a reference compared in one read.
    private static let compareSize = 1 << 20

    /// One step of the plan for a data run: clone `blocks` blocks from a reference, or write them.
    private struct Piece {
        var range: Range<Int>
        /// The reference and byte offset to clone from; nil writes the bytes.
        var source: (reference: Int, offset: UInt64)?
    }

    /// Runs at least this long are split in two halves stored on two threads: hashing, comparing and cloning are
    /// CPU work that a plain copy (copy_file_range) does not have, and a local source's reader hands over one range
    /// at a time. Measured on the bench's delta pair (local qcow2 onto XFS): see README *Delta volumes*.
    static let parallelThreshold = 2 << 20

    /// Stores `bytes`, guest data at `offset`, into `target`, sharing what the references hold.
    func store(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, into target: FileDescriptor, path: String) throws {
        guard bytes.count >= Self.parallelThreshold else {
            return try storeSerially(bytes, at: offset, into: target, path: path)
        }
        // The split falls on a guest block boundary, so each half keeps whole aligned blocks.
        let middle = Int((offset + UInt64(bytes.count / 2)) / UInt64(Self.block) * UInt64(Self.block) - offset)
        let failure = Mutex<(any Error)?>(nil)
        // The caller keeps `bytes` valid until this returns, and concurrentPerform returns after both halves.
        nonisolated(unsafe) let whole = bytes
        DispatchQueue.concurrentPerform(iterations: 2) { half in
            let range = half == 0 ? 0..<middle : middle..<whole.count
            do {
                try storeSerially(UnsafeRawBufferPointer(rebasing: whole[range]), at: offset + UInt64(range.lowerBound),
                                  into: target, path: path)
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    private func storeSerially(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, into target: FileDescriptor, path: String) throws {
        for piece in try plan(bytes, at: offset) {
            let slice = UnsafeRawBufferPointer(rebasing: bytes[piece.range])
            let guest = offset + UInt64(piece.range.lowerBound)
            if let source = piece.source,
               try reflink.clone(from: index.files[source.reference].fd, sourceOffset: source.offset, to: target,
                                 targetOffset: guest, length: UInt64(slice.count), targetPath: path) == .cloned {
                progress.addSharedWithReferenceBytes(UInt64(slice.count))
                continue
            }
            try TargetIO.writeAll(target, slice, at: guest, path: path)
        }
    }

    /// The pieces of `bytes` in order: the partial blocks at either end and the unmatched blocks to write, the
    /// verified matches to clone, each merged with its neighbours of the same kind.
    private func plan(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws -> [Piece] {
        let head = min(bytes.count, Int((UInt64(Self.block) - offset % UInt64(Self.block)) % UInt64(Self.block)))
        let blocks = (bytes.count - head) / Self.block
        let candidates = candidates(bytes, first: head, blocks: blocks)
        let verified = try verify(bytes, first: head, candidates: candidates)
        var pieces: [Piece] = []
        func append(_ range: Range<Int>, _ source: (reference: Int, offset: UInt64)?) {
            guard !range.isEmpty else { return }
            if let last = pieces.last, last.range.upperBound == range.lowerBound {
                switch (last.source, source) {
                case (nil, nil):
                    pieces[pieces.count - 1].range = last.range.lowerBound..<range.upperBound
                    return
                case let (a?, b?) where a.reference == b.reference && a.offset + UInt64(last.range.count) == b.offset:
                    pieces[pieces.count - 1].range = last.range.lowerBound..<range.upperBound
                    return
                default: break
                }
            }
            pieces.append(Piece(range: range, source: source))
        }
        append(0..<head, nil)
        for i in 0..<blocks {
            let start = head + i * Self.block
            let source = verified[i].map { (reference: $0.reference, offset: $0.blockNumber * UInt64(Self.block)) }
            append(start..<start + Self.block, source)
        }
        append(head + blocks * Self.block..<bytes.count, nil)
        return pieces
    }

    /// Each block's candidate in the index, preferring the block after the previous block's candidate.
    private func candidates(_ bytes: UnsafeRawBufferPointer, first: Int, blocks: Int) -> [ReferenceIndex.Entry?] {
        var result: [ReferenceIndex.Entry?] = []
        result.reserveCapacity(blocks)
        var previous: ReferenceIndex.Entry?
        for i in 0..<blocks {
            let start = first + i * Self.block
            let (high, low) = index.hash(UnsafeRawBufferPointer(rebasing: bytes[start..<start + Self.block]))
            let entry = index.candidate(high: high, low: low, preferred: previous.map { $0.location + 1 })
            result.append(entry)
            previous = entry
        }
        return result
    }

    /// The candidates whose bytes are the block's, nil elsewhere: adjacent candidates with adjacent sources are read
    /// from the reference in one pread and compared block by block.
    private func verify(_ bytes: UnsafeRawBufferPointer, first: Int, candidates: [ReferenceIndex.Entry?]) throws -> [ReferenceIndex.Entry?] {
        var result = candidates
        guard candidates.contains(where: { $0 != nil }) else { return result }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(Self.compareSize, candidates.count * Self.block),
                                                            alignment: Self.block)
        defer { buffer.deallocate() }
        let perRead = buffer.count / Self.block
        var i = 0
        while i < candidates.count {
            guard let start = candidates[i] else {
                i += 1
                continue
            }
            var n = 1
            while i + n < candidates.count, n < perRead, let next = candidates[i + n],
                  next.reference == start.reference, next.blockNumber == start.blockNumber + UInt64(n) {
                n += 1
            }
            let old = UnsafeMutableRawBufferPointer(rebasing: buffer[..<(n * Self.block)])
            try ReferenceIndex.readAll(index.files[start.reference], into: old, at: start.blockNumber * UInt64(Self.block))
            for k in 0..<n {
                let new = first + (i + k) * Self.block
                if memcmp(old.baseAddress! + k * Self.block, bytes.baseAddress! + new, Self.block) != 0 { result[i + k] = nil }
            }
            i += n
        }
        return result
    }
}
