import DiskImportCore

/// An expected digest of the downloaded bytes: `--checksum sha256:HEX` (also md5, sha1, sha512), IMPORTER_CHECKSUM.
public struct Checksum: Sendable, Equatable, CustomStringConvertible {
    public var algorithm: DigestAlgorithm
    /// Lowercase hex.
    public var hex: String

    public init(algorithm: DigestAlgorithm, hex: String) {
        self.algorithm = algorithm
        self.hex = hex
    }

    /// Parses "ALGORITHM:HEX"; the hex length must match the algorithm.
    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":"),
              let algorithm = DigestAlgorithm(rawValue: text[..<colon].lowercased()) else {
            let names = DigestAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")
            throw DiskImportError.usage("checksum \"\(text.prefix(80))\" is not ALGORITHM:HEX with ALGORITHM one of \(names)")
        }
        let hex = text[text.index(after: colon)...].lowercased()
        guard algorithm.isDigestHex(hex) else {
            throw DiskImportError.usage("checksum \"\(text.prefix(80))\": a \(algorithm.rawValue) digest is \(algorithm.size * 2) hex digits")
        }
        self.init(algorithm: algorithm, hex: hex)
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }
}

/// Passes a stream through unchanged while hashing it; `verify()` reads whatever the consumer left (a decoder
/// may stop before the source's end) and compares the digest with the expected checksum.
public final class ChecksumStream: ByteStream {
    private let upstream: ByteStream
    private let expected: Checksum
    private let digest: Digest
    private var ended = false

    public init(_ upstream: ByteStream, expected: Checksum) throws {
        self.upstream = upstream
        self.expected = expected
        digest = try Digest(expected.algorithm)
    }

    public var expectedLength: UInt64? { upstream.expectedLength }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        if n == 0 && buffer.count > 0 { ended = true }
        digest.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        return n
    }

    /// Drains the rest of the source, then throws a `.checksum` error when the digest differs.
    public func verify() throws {
        if !ended {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
            defer { scratch.deallocate() }
            while try read(into: scratch) > 0 {}
        }
        let actual = Digest.hex(digest.finalize())
        guard actual == expected.hex else {
            throw DiskImportError(.checksum, "checksum mismatch: expected \(expected), got \(expected.algorithm.rawValue):\(actual)")
        }
    }
}
