import DiskImportCore

/// The bytes of a qcow2 image seen front to back, keeping only what may still be needed: image offsets
/// `start..<end` are in memory. Each `advance` drops what lies before the offset the caller still needs and takes
/// one more chunk (a whole number of clusters) from its filler: a stream read, or decoded bytes pushed in.
final class Qcow2StreamWindow {
    private let buffer: UnsafeMutableRawBufferPointer
    let chunkSize: Int
    private(set) var start: UInt64 = 0
    private(set) var end: UInt64 = 0

    /// `retainable` is the most the caller will ever ask to keep behind the newest chunk.
    init(chunkSize: Int, retainable: Int) {
        self.chunkSize = chunkSize
        buffer = .allocate(byteCount: chunkSize + retainable, alignment: 4096)
    }

    deinit { buffer.deallocate() }

    /// Drops the bytes before `keep` (clamped to the window) and lets `fill` put up to one chunk more after them,
    /// returning how many it put. Returns the image range just added: empty when `fill` had nothing.
    func advance(keeping keep: UInt64, fill: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Range<UInt64> {
        let keepFrom = min(max(keep, start), end)
        let retained = Int(end - keepFrom)
        if retained + chunkSize > buffer.count {
            throw DiskImportError(.limit, "qcow2 stream: \(retained) bytes must stay in memory, more than the \(buffer.count - chunkSize) planned")
        }
        if keepFrom > start, retained > 0 {
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + Int(keepFrom - start), byteCount: retained)
        }
        start = keepFrom
        let got = try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[retained..<retained + chunkSize]))
        let range = end..<end + UInt64(got)
        end += UInt64(got)
        return range
    }

    /// Empties the window and moves it to `offset`: the bytes before it went elsewhere (placed by another thread).
    func restart(at offset: UInt64) {
        precondition(offset >= end, "qcow2 stream window: restarting behind its end")
        start = offset
        end = offset
    }

    /// Image bytes `range`, which must lie inside the window.
    func bytes(_ range: Range<UInt64>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= start && range.upperBound <= end, "qcow2 stream window: \(range) outside \(start)..<\(end)")
        return UnsafeRawBufferPointer(rebasing: buffer[Int(range.lowerBound - start)..<Int(range.upperBound - start)])
    }
}
