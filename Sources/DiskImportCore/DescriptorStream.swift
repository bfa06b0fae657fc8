import SystemPackage

/// A file descriptor read front to back with read(2): a pipe, a FIFO, a character device, standard input. Nothing
/// here seeks, so any descriptor that can be read works.
public final class DescriptorStream: ByteStream {
    private let descriptor: FileDescriptor
    /// The source in messages.
    public let name: String
    private let closesDescriptor: Bool

    /// - Parameters:
    ///   - name: the source in messages.
    ///   - closesDescriptor: close `descriptor` when the stream goes (false for standard input).
    public init(_ descriptor: FileDescriptor, name: String, closesDescriptor: Bool) {
        self.descriptor = descriptor
        self.name = name
        self.closesDescriptor = closesDescriptor
    }

    deinit { if closesDescriptor { try? descriptor.close() } }

    /// read(2), retried on EINTR.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        do {
            return try descriptor.read(into: buffer, retryOnInterrupt: true)
        } catch let errno as Errno {
            throw DiskImportError.io("read", name, errno)
        }
    }
}
