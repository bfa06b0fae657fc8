import DiskImportCore

/// The bytes of a qcow2 image read front to back from a stream, keeping only what may still be needed:
/// image offsets `start..<end` are in memory. Each `advance` drops what lies before the offset the caller still
/// needs and reads one more chunk (a whole number of clusters).
final class Qcow2StreamWindow {
    private let stream: ByteStream
    private let buffer: UnsafeMutableRawBufferPointer
    let chunkSize: Int
    private(set) var start: UInt64 = 0
    private(set) var end: UInt64 = 0
    private(set) var atEnd = false

    /// `retainable` is the most the caller will ever ask to keep behind the newest chunk.
    init(stream: ByteStream, chunkSize: Int, retainable: Int) {
        self.stream = stream
        self.chunkSize = chunkSize
        buffer = .allocate(byteCount: chunkSize + retainable, alignment: 4096)
    }

    deinit { buffer.deallocate() }

    /// Drops the bytes before `keep` (clamped to the window) and reads up to one chunk more.
    /// Returns the image range just read: empty at the end of the stream.
    func advance(keeping keep: UInt64) throws -> Range<UInt64> {
        guard !atEnd else { return end..<end }
        let keepFrom = min(max(keep, start), end)
        let retained = Int(end - keepFrom)
        if retained + chunkSize > buffer.count {
            throw DiskImportError(.limit, "qcow2 stream: \(retained) bytes must stay in memory, more than the \(buffer.count - chunkSize) planned")
        }
        if keepFrom > start, retained > 0 {
            buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + Int(keepFrom - start), byteCount: retained)
        }
        start = keepFrom
        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[retained..<retained + chunkSize])
        let got = try stream.readFully(into: chunk)
        if got < chunkSize { atEnd = true }
        let range = end..<end + UInt64(got)
        end += UInt64(got)
        return range
    }

    /// Image bytes `range`, which must lie inside the window.
    func bytes(_ range: Range<UInt64>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= start && range.upperBound <= end, "qcow2 stream window: \(range) outside \(start)..<\(end)")
        return UnsafeRawBufferPointer(rebasing: buffer[Int(range.lowerBound - start)..<Int(range.upperBound - start)])
    }
}
