import DiskImportCore

/// A registry blob's bytes, checked against its descriptor as they pass: never more than `descriptor.size`
/// bytes, and at the end exactly that many with the descriptor's digest (SHA-256 on OpenSSL's EVP, ~2 GB/s).
///
/// The end of the stream is where a mismatch is reported: `read` throws instead of returning 0, so a consumer that
/// reads to the end never mistakes tampered or truncated content for a complete blob. A consumer that stops early
/// calls `verifyRest()` before it trusts what it wrote (the importer does, before committing the target).
public final class RegistryBlobStream: ByteStream {
    public let descriptor: RegistryDescriptor
    private let upstream: ByteStream
    private let digest: Digest
    /// `repository@digest`, for messages.
    private let name: String
    private var count: UInt64 = 0
    private var verified = false
    /// A mismatch found at the end, thrown again by every later read.
    private var mismatch: DiskImportError?

    init(_ upstream: ByteStream, descriptor: RegistryDescriptor, name: String) throws {
        self.upstream = upstream
        self.descriptor = descriptor
        self.name = name
        digest = try Digest(descriptor.digest.algorithm)
        if let announced = upstream.expectedLength, announced != descriptor.size {
            throw DiskImportError(.checksum, "blob \(name) is \(announced) bytes on the server, not the \(descriptor.size) its manifest says: refusing it")
        }
    }

    public var expectedLength: UInt64? { descriptor.size }

    /// Bytes read so far.
    public var bytesRead: UInt64 { count }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if verified { return 0 }
        if let mismatch { throw mismatch }
        let n = try upstream.read(into: buffer)
        if n == 0 {
            try finish()
            return 0
        }
        count += UInt64(n)
        guard count <= descriptor.size else {
            let error = DiskImportError(.checksum, "blob \(name) is longer than the \(descriptor.size) bytes its manifest says: refusing it")
            mismatch = error
            throw error
        }
        digest.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        return n
    }

    /// Reads whatever the consumer left, then checks size and digest (throws `.checksum` on a mismatch).
    public func verifyRest() throws {
        guard !verified else { return }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { scratch.deallocate() }
        while try read(into: scratch) > 0 {}
    }

    private func finish() throws {
        if count != descriptor.size {
            mismatch = DiskImportError(.checksum, "blob \(name) ended after \(count) of the \(descriptor.size) bytes its manifest says: refusing it")
        } else {
            let actual = Digest.hex(digest.finalize())
            if actual != descriptor.digest.hex {
                mismatch = DiskImportError(.checksum, "blob \(name) does not match its digest (its bytes hash to "
                    + "\(descriptor.digest.algorithm.rawValue):\(actual)): refusing it")
            }
        }
        if let mismatch { throw mismatch }
        verified = true
    }
}
