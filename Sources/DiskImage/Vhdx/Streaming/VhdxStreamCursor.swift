import DiskImportCore

/// Where a VHDX stream has got to: reads and skips forward, and keeps the bytes it passes in scratch when asked.
final class VhdxStreamCursor {
    private let stream: ByteStream
    let name: String
    private(set) var position: UInt64 = 0
    let scratch: VhdxStreamScratch?
    private var buffer: UnsafeMutableRawBufferPointer

    init(stream: ByteStream, name: String, scratch: VhdxStreamScratch?, bufferSize: Int = 1 << 20) {
        self.stream = stream
        self.name = name
        self.scratch = scratch
        buffer = .allocate(byteCount: bufferSize, alignment: 4096)
    }

    deinit { buffer.deallocate() }

    /// Up to `count` bytes from the current position; fewer only where the stream ends.
    func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try bytes.withUnsafeMutableBytes { try stream.readFully(into: $0) }
        position += UInt64(got)
        if got < count { bytes.removeSubrange(got...) }
        return bytes
    }

    /// Exactly `destination.count` bytes from the current position, or a `.corrupt` error naming `what`.
    func readExactly(into destination: UnsafeMutableRawBufferPointer, what: String) throws {
        let got = try stream.readFully(into: destination)
        position += UInt64(got)
        if got < destination.count {
            throw DiskImportError.corrupt("\(name): vhdx: \(what) lies past the end of the file (the stream ends at offset \(position))")
        }
    }

    /// Moves forward to `offset`, keeping the bytes passed in scratch (when there is one) except those in `discard`.
    func pass(to offset: UInt64, discarding discard: Range<UInt64>? = nil) throws {
        guard let scratch else { return try skip(to: offset) }
        while position < offset {
            let inDiscard = discard.map { $0.contains(position) } ?? false
            var end = offset
            if let discard {
                if inDiscard { end = min(end, discard.upperBound) } else if discard.lowerBound > position { end = min(end, discard.lowerBound) }
            }
            let count = Int(min(UInt64(buffer.count), end - position))
            let start = position
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
            let got = try stream.readFully(into: piece)
            guard got > 0 else { return }
            position += UInt64(got)
            if !inDiscard { try scratch.keep(UnsafeRawBufferPointer(rebasing: piece[..<got]), at: start) }
        }
    }

    /// Moves forward to `offset`, dropping the bytes passed (they are known not to be needed).
    func skip(to offset: UInt64) throws {
        while position < offset {
            let count = Int(min(UInt64(buffer.count), offset - position))
            let got = try stream.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<count]))
            guard got > 0 else { return }
            position += UInt64(got)
        }
    }

    /// Reads and drops the rest of the stream, so that a wrapper's trailer (gzip's CRC, xz's index) is checked.
    func drain() throws { try skip(to: .max) }
}
