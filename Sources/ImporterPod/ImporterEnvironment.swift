import DiskImportCore
import Fetch
import Target

/// CDI's importer environment, parsed and checked before anything is written (see `EnvironmentVariable.all` for
/// what each variable does). Errors carry the exact text CDI uses where CDI has one.
public struct ImporterEnvironment: Sendable {
    public enum Source: String, Sendable, Equatable {
        case http, registry, s3, gcs
        /// A blank disk (CDI's `none`).
        case blank = "none"
    }

    public enum ContentType: String, Sendable, Equatable {
        /// A disk image (raw or qcow2, maybe compressed) written as a raw disk.
        case kubevirt
        /// A tar whose files are extracted into the data directory.
        case archive
    }

    public var source: Source
    public var endpoint: String
    public var contentType: ContentType
    /// IMPORTER_IMAGE_SIZE in bytes.
    public var imageSize: UInt64?
    public var credentials: Credentials?
    /// IMPORTER_ACCESS_KEY_ID and IMPORTER_SECRET_KEY as given, for the s3 source (which refuses one without the
    /// other at connect time, as CDI does).
    public var accessKeyID: String
    public var secretKey: String
    public var certificateDirectory: String?
    public var proxyCertificateDirectory: String?
    /// INSECURE_TLS: applies to the registry source only, as in CDI.
    public var insecureTLS: Bool
    public var preallocation: Bool
    /// FILESYSTEM_OVERHEAD, read as CDI's importer reads it (`strconv.ParseFloat`; 0 when unset or empty).
    public var filesystemOverhead: FilesystemOverhead
    public var checksum: Checksum?
    /// IMPORTER_REGISTRY_IMAGE_ARCHITECTURE as the platform to pick from a multi-platform image; nil picks this
    /// machine's.
    public var platform: RegistryPlatform?
    /// IMPORTER_EXTRA_HEADER_* in the order of the variable names.
    public var extraHeaders: [HeaderLine]
    public var ownerUID: String
    public var readyFile: String?
    public var doneFile: String?
    /// GOOGLE_APPLICATION_CREDENTIALS: the gcs source's service account key (CDI mounts the Secret's
    /// credentials.json at /google/credentials.json and points this variable at it); nil reads anonymously.
    public var googleCredentialsFile: String?
}

extension ImporterEnvironment {
    /// Sources CDI has and diskimport does not import from.
    static let unsupportedSources: Set<String> = ["imageio", "vddk"]

    /// Parses `environment` (a process environment); throws a `DiskImportError` whose message is what the
    /// termination log should say.
    public init(_ environment: [String: String]) throws {
        func value(_ name: String) -> String? {
            guard let v = environment[name], !v.isEmpty else { return nil }
            return v
        }

        // CDI checks PREALLOCATION first, and exits before looking at the source.
        let preallocationText = environment["PREALLOCATION"] ?? ""
        if preallocationText.isEmpty {
            preallocation = false
        } else if let parsed = GoStrconv.parseBool(preallocationText) {
            preallocation = parsed
        } else {
            throw DiskImportError.usage(
                "the PREALLOCATION environment variable is with a wrong value \"\(preallocationText)\"; should be \"true\" or \"false\"")
        }

        let sourceText = environment["IMPORTER_SOURCE"] ?? ""
        let contentText = value("IMPORTER_CONTENTTYPE") ?? ContentType.kubevirt.rawValue
        if Self.unsupportedSources.contains(sourceText) {
            throw DiskImportError.unsupported(
                "source \(sourceText) is not supported by diskimport (supported: http, registry, s3, gcs, none)")
        }
        guard let contentType = ContentType(rawValue: contentText) else {
            throw DiskImportError.usage("Unsupported content type \(contentText): expected kubevirt or archive")
        }
        if contentType != .kubevirt && (sourceText == "registry" || sourceText == "imageio") {
            throw DiskImportError.usage("Unsupported content type \(contentText) when importing from \(sourceText)")
        }
        guard let source = Source(rawValue: sourceText) else {
            throw DiskImportError.usage("Unknown data source: \(sourceText)")
        }
        self.source = source
        self.contentType = contentType

        endpoint = value("IMPORTER_ENDPOINT") ?? ""
        switch source {
        case .http where !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")):
            throw DiskImportError.usage("IMPORTER_ENDPOINT \"\(Redaction.endpoint(endpoint))\" is not an http:// or https:// URL")
        case .registry where !endpoint.hasPrefix("docker://"):
            throw DiskImportError.usage("IMPORTER_ENDPOINT \"\(Redaction.endpoint(endpoint))\" is not a docker:// image reference")
        case .s3 where !endpoint.contains("://"):
            throw DiskImportError.usage("IMPORTER_ENDPOINT \"\(Redaction.endpoint(endpoint))\" is not an S3 endpoint URL (SCHEME://HOST/BUCKET/KEY)")
        case .gcs where !(endpoint.hasPrefix("gs://") || endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")):
            throw DiskImportError.usage("IMPORTER_ENDPOINT \"\(Redaction.endpoint(endpoint))\" is not gs://BUCKET/OBJECT or https://HOST/BUCKET/OBJECT")
        default:
            break
        }

        imageSize = try value("IMPORTER_IMAGE_SIZE").map { text in
            do { return try Quantity.bytes(text) } catch {
                throw DiskImportError.usage("IMPORTER_IMAGE_SIZE \"\(text)\" is not a Kubernetes quantity of bytes")
            }
        }
        if source == .blank && imageSize == nil {
            throw DiskImportError.usage("IMPORTER_IMAGE_SIZE is required for a blank disk (IMPORTER_SOURCE=none)")
        }

        let user = environment["IMPORTER_ACCESS_KEY_ID"] ?? "", secret = environment["IMPORTER_SECRET_KEY"] ?? ""
        // CDI sends credentials only when both are set.
        credentials = user.isEmpty || secret.isEmpty ? nil : Credentials(user: user, password: secret)
        accessKeyID = user
        secretKey = secret
        certificateDirectory = value("IMPORTER_CERT_DIR")
        proxyCertificateDirectory = value("IMPORTER_PROXY_CERT_DIR")

        let insecureText = environment["INSECURE_TLS"] ?? ""
        guard let insecure = insecureText.isEmpty ? false : GoStrconv.parseBool(insecureText) else {
            throw DiskImportError.usage("INSECURE_TLS \"\(insecureText)\" is not a boolean; expected \"true\" or \"false\"")
        }
        insecureTLS = insecure

        // cmd/cdi-importer: `strconv.ParseFloat(os.Getenv("FILESYSTEM_OVERHEAD"), 64)` with the error dropped, so
        // unset is 0. The controller always sets it, to a CDIConfig Percent or "0"; text ParseFloat refuses, or a
        // value outside 0...1, is refused here rather than silently taken as 0 or used as it is.
        do {
            filesystemOverhead = try value("FILESYSTEM_OVERHEAD").map { try FilesystemOverhead(parsing: $0) } ?? .none
        } catch {
            throw DiskImportError.usage("FILESYSTEM_OVERHEAD \"\(environment["FILESYSTEM_OVERHEAD"] ?? "")\" is not a number from 0 to 1")
        }
        filesystemOverhead = filesystemOverhead.using(try OverheadArithmetic(environment: environment))
        checksum = try value("IMPORTER_CHECKSUM").map { text in
            do { return try Checksum(parsing: text) } catch let error as DiskImportError {
                throw DiskImportError.usage("IMPORTER_CHECKSUM: \(error.message)")
            }
        }
        platform = try value("IMPORTER_REGISTRY_IMAGE_ARCHITECTURE").map { text in
            do { return try RegistryPlatform(parsingArchitecture: text) } catch {
                throw DiskImportError.usage(
                    "IMPORTER_REGISTRY_IMAGE_ARCHITECTURE \"\(text.prefix(60))\" is not an architecture such as amd64, arm64 or arm/v7")
            }
        }
        extraHeaders = try HeaderLine.fromEnvironment(environment)
        ownerUID = environment["OWNER_UID"] ?? ""
        readyFile = value("IMPORTER_READY_FILE")
        doneFile = value("IMPORTER_DONE_FILE")
        googleCredentialsFile = value("GOOGLE_APPLICATION_CREDENTIALS")
    }
}
