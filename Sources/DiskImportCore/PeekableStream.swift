/// A stream whose first bytes can be examined before they are consumed: format sniffing reads the head,
/// then the chosen decoder reads the same bytes again.
public final class PeekableStream: ByteStream {
    private let upstream: ByteStream
    private var head: [UInt8] = []
    private var headOffset = 0

    public init(_ upstream: ByteStream) { self.upstream = upstream }

    public var expectedLength: UInt64? { upstream.expectedLength }

    /// Up to `count` bytes from the current position without consuming them (fewer only when the stream is shorter).
    public func peek(_ count: Int) throws -> [UInt8] {
        if head.count - headOffset < count {
            head.removeFirst(headOffset)
            headOffset = 0
            let have = head.count
            head += [UInt8](repeating: 0, count: count - have)
            let got = try head.withUnsafeMutableBytes { buffer in
                try upstream.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[have...]))
            }
            head.removeLast(count - have - got)
        }
        return Array(head[headOffset..<min(head.count, headOffset + count)])
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if headOffset < head.count {
            let n = min(buffer.count, head.count - headOffset)
            head.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + headOffset, byteCount: n)
            }
            headOffset += n
            if headOffset == head.count {
                head.removeAll(keepingCapacity: false)
                headOffset = 0
            }
            return n
        }
        return try upstream.read(into: buffer)
    }
}
