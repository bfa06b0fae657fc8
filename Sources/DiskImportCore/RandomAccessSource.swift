import SystemPackage

/// Bytes that can be read at any offset: a local file, an HTTP resource served with ranges.
///
/// Implementations accept concurrent reads from several threads.
public protocol RandomAccessSource: AnyObject, Sendable {
    /// Total length in bytes.
    var length: UInt64 { get }

    /// Reads up to `buffer.count` bytes at `offset`; returns fewer only when the source ends first (0 past the end).
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int

    /// The local file behind this source, when there is one, so targets can copy in the kernel (copy_file_range, reflink).
    var localFile: FileDescriptor? { get }

    /// A short name for messages: a path or a URL without credentials.
    var displayName: String { get }
}

extension RandomAccessSource {
    public var localFile: FileDescriptor? { nil }

    /// Reads until `buffer` is full or the source ends; returns the number of bytes read.
    public func readFully(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(at: offset + UInt64(filled), into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Reads exactly `buffer.count` bytes at `offset` or throws a `.corrupt` error naming `what`.
    public func readExactly(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        let n = try readFully(at: offset, into: buffer)
        if n < buffer.count {
            throw DiskImportError.corrupt(
                "\(displayName): \(what) at offset \(offset) (\(buffer.count) bytes) lies past the end of the file (\(length) bytes)")
        }
    }
}

extension RandomAccessSource {
    /// A sequential stream over the whole source, from its first byte.
    public func stream() -> ByteStream { RandomAccessStream(source: self) }

    /// Up to `count` bytes from the start of the source, for sniffing without a stream.
    public func head(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try readFully(at: 0, into: $0) }
        return Array(bytes[..<n])
    }
}

/// Reads a `RandomAccessSource` front to back.
final class RandomAccessStream: ByteStream {
    private let source: RandomAccessSource
    private var position: UInt64 = 0

    init(source: RandomAccessSource) { self.source = source }

    var expectedLength: UInt64? { source.length }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try source.read(at: position, into: buffer)
        position += UInt64(n)
        return n
    }
}
