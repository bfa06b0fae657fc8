/// A source of bytes read front to back: a file, an HTTP body, a decompressor, a tar entry.
///
/// Every stage of a streaming import is a `ByteStream` reading from the one before it, so a new transport or
/// codec is one new conforming type. Streams are used from one thread at a time.
public protocol ByteStream: AnyObject {
    /// Reads at most `buffer.count` bytes into `buffer` and returns how many it read.
    /// Returns 0 only at the end of the stream (and for an empty buffer); a short read is not the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int

    /// The stream's total length when it is known up front (a file size, a Content-Length), for progress.
    var expectedLength: UInt64? { get }
}

extension ByteStream {
    public var expectedLength: UInt64? { nil }

    /// Reads until `buffer` is full or the stream ends; returns the number of bytes read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Reads and discards `count` bytes; returns how many were skipped (fewer only at the end of the stream).
    public func skip(_ count: UInt64, scratch: UnsafeMutableRawBufferPointer) throws -> UInt64 {
        var left = count
        while left > 0 {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<Int(min(UInt64(scratch.count), left))]))
            if n == 0 { break }
            left -= UInt64(n)
        }
        return count - left
    }
}
