import DiskImportCore

/// The compressed side of an .xz file as a container parser needs it: a window of buffered bytes to peek at and
/// consume in place (headers, the index, a block decoded on the spot), and exact reads of a block's bytes, which go
/// straight from the stream into the caller's buffer when they are larger than the window.
final class XzContainerInput {
    private let upstream: ByteStream
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var upstreamEnded = false

    init(_ upstream: ByteStream, bufferSize: Int = 1 << 20) {
        self.upstream = upstream
        buffer = .allocate(byteCount: bufferSize, alignment: 64)
    }

    deinit { buffer.deallocate() }

    /// The buffered bytes not consumed yet, refilled from the stream when empty; empty only at the end of the stream.
    func window() throws -> UnsafeRawBufferPointer {
        if start == end && !upstreamEnded {
            start = 0
            end = try upstream.read(into: buffer)
            if end == 0 { upstreamEnded = true }
        }
        return UnsafeRawBufferPointer(rebasing: buffer[start..<end])
    }

    /// Marks `count` bytes of the window as used.
    func consume(_ count: Int) {
        precondition(count <= end - start, "XzContainerInput: consuming more than the window holds")
        start += count
    }

    /// The next byte without consuming it; nil at the end of the stream.
    func peekByte() throws -> UInt8? {
        let bytes = try window()
        return bytes.isEmpty ? nil : bytes[0]
    }

    /// Fills `destination` completely; false when the stream ends first (a truncated file).
    func readExactly(into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        var filled = 0
        while filled < destination.count {
            if start == end && destination.count - filled >= buffer.count {
                // A block's bytes: skip the extra copy through the window.
                let n = try upstream.read(into: UnsafeMutableRawBufferPointer(rebasing: destination[filled...]))
                if n == 0 {
                    upstreamEnded = true
                    return false
                }
                filled += n
                continue
            }
            let bytes = try window()
            if bytes.isEmpty { return false }
            let n = min(bytes.count, destination.count - filled)
            destination.baseAddress!.advanced(by: filled).copyMemory(from: bytes.baseAddress!, byteCount: n)
            consume(n)
            filled += n
        }
        return true
    }
}
