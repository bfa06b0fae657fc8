import SystemPackage

/// The one error type every layer throws: a kind the importer can branch on, and a one-line message for people.
///
/// Messages name the problem and the thing it concerns ("qcow2: L1 table at 0x... lies past the end of the file"),
/// never a credential.
public struct DiskImportError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// A system call failed.
        case io
        /// The input is not what it claims to be, or is damaged.
        case corrupt
        /// A known format or feature that diskimport does not handle.
        case unsupported
        /// The user asked for something inconsistent.
        case usage
        /// Network, HTTP or registry protocol failure.
        case network
        /// Authentication or authorization failed.
        case auth
        /// Certificate verification or TLS handshake failed.
        case tls
        /// Not enough space on the target.
        case space
        /// Downloaded bytes do not match the expected digest or checksum.
        case checksum
        /// The bytes cannot be placed without a scratch area and none was given.
        case scratchRequired
        /// A limit that protects memory or time was hit (decompression bomb, stall).
        case limit
    }

    public var kind: Kind
    public var message: String
    /// The errno behind an `.io` error, when there is one.
    public var errno: Errno?

    public init(_ kind: Kind, _ message: String, errno: Errno? = nil) {
        self.kind = kind
        self.message = message
        self.errno = errno
    }

    public var description: String { message }

    /// An `.io` error for a failed system call on `subject` (a path or a short description).
    public static func io(_ operation: String, _ subject: String, _ errno: Errno) -> DiskImportError {
        DiskImportError(.io, "\(operation) \(subject): \(errno.description)", errno: errno)
    }

    public static func corrupt(_ message: String) -> DiskImportError { DiskImportError(.corrupt, message) }
    public static func unsupported(_ message: String) -> DiskImportError { DiskImportError(.unsupported, message) }
    public static func usage(_ message: String) -> DiskImportError { DiskImportError(.usage, message) }
}
