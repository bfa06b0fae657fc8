import CronController
import DiskImportCore
import ImporterPod
import Target

/// CDI's upload server environment (cmd/cdi-uploadserver main, and what pkg/controller/upload-controller.go
/// sets in the pod), parsed and checked before the server listens.
public struct UploadServerEnvironment: Sendable {
    /// LISTEN_ADDRESS (default 0.0.0.0; set but empty: every address, as Go's net.Listen takes it).
    public var listenAddress: String
    /// LISTEN_PORT (default 8443; a value that is not a 16-bit number is ignored, as CDI ignores it).
    public var listenPort: Int
    /// DESTINATION: the disk image file or the block device (default /data/disk.img, CDI's ImporterWritePath).
    public var destination: String?
    public var tlsKeyFile: String
    public var tlsCertFile: String
    /// CLIENT_CERT_FILE: the CA bundle client certificates must chain to (the system's CAs when unset).
    public var clientCertFile: String?
    /// CLIENT_NAME: the common name the client certificate must have (the upload proxy's).
    public var clientName: String
    /// UPLOAD_IMAGE_SIZE in bytes.
    public var imageSize: UInt64?
    public var filesystemOverhead: FilesystemOverhead
    public var preallocation: Bool
    var crypto: CryptoConfig
    /// DEADLINE (RFC 3339): with no completed upload by then, the server ends with "Deadline Passed".
    public var deadline: UTCInstant?

    public static let defaultPort = 8443

    /// Parses `environment`; throws one line naming what is wrong.
    public init(_ environment: [String: String]) throws {
        func value(_ name: String) -> String? {
            guard let v = environment[name], !v.isEmpty else { return nil }
            return v
        }
        listenAddress = environment["LISTEN_ADDRESS"] ?? "0.0.0.0"
        listenPort = value("LISTEN_PORT").flatMap { UInt16($0) }.map(Int.init) ?? Self.defaultPort
        destination = value("DESTINATION")
        // CDI: "Error getting TLS config: invalid TLS config" without a certificate and key.
        guard let key = value("TLS_KEY_FILE"), let certificate = value("TLS_CERT_FILE") else {
            throw DiskImportError(.tls, "Error getting TLS config: invalid TLS config (TLS_CERT_FILE and TLS_KEY_FILE are required)")
        }
        tlsKeyFile = key
        tlsCertFile = certificate
        clientCertFile = value("CLIENT_CERT_FILE")
        clientName = environment["CLIENT_NAME"] ?? ""
        imageSize = try value("UPLOAD_IMAGE_SIZE").map { text in
            do { return try Quantity.bytes(text) } catch {
                throw DiskImportError.usage("UPLOAD_IMAGE_SIZE \"\(text)\" is not a Kubernetes quantity of bytes")
            }
        }
        // cmd/cdi-uploadserver: `strconv.ParseFloat(os.Getenv(common.FilesystemOverheadVar), 64)` with the error
        // dropped, so unset is 0, as for the importer (ImporterEnvironment); the upload controller always sets it.
        do {
            filesystemOverhead = try value("FILESYSTEM_OVERHEAD").map { try FilesystemOverhead(parsing: $0) } ?? .none
        } catch {
            throw DiskImportError.usage("FILESYSTEM_OVERHEAD \"\(environment["FILESYSTEM_OVERHEAD"] ?? "")\" is not a number from 0 to 1")
        }
        filesystemOverhead = filesystemOverhead.using(try OverheadArithmetic(environment: environment))
        let preallocationText = environment["PREALLOCATION"] ?? ""
        guard let preallocation = preallocationText.isEmpty ? false : GoStrconv.parseBool(preallocationText) else {
            throw DiskImportError.usage("PREALLOCATION \"\(preallocationText)\" is not a boolean; expected \"true\" or \"false\"")
        }
        self.preallocation = preallocation
        crypto = CryptoConfig(ciphers: environment["TLS_CIPHERS"] ?? "", minimumVersion: environment["TLS_MIN_VERSION"] ?? "")
        deadline = try value("DEADLINE").map { text in
            do { return try UTCInstant(rfc3339: text) } catch {
                throw DiskImportError.usage("Failed to parse deadline: DEADLINE \"\(text.prefix(60))\" is not an RFC 3339 time")
            }
        }
    }
}
