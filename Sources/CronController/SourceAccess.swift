import DiskImportCore

/// Credentials from a Secret's `accessKeyId` and `secretKey` (a registry's user and password, or an HTTP server's
/// Basic credentials, as CDI's importer uses them). They print as a placeholder, so they cannot leak into logs,
/// errors or status by accident.
public struct SourceCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let accessKeyId: String
    public let secretKey: String

    public init(accessKeyId: String, secretKey: String) {
        self.accessKeyId = accessKeyId
        self.secretKey = secretKey
    }

    public var description: String { "<source credentials>" }
    public var debugDescription: String { description }
}

/// How to reach one cron's source (registry or HTTP server): credentials and extra trusted CA certificates.
public struct SourceAccess: Sendable, Equatable {
    public var credentials: SourceCredentials?
    /// The ConfigMap's directory (CDI's IMPORTER_CERT_DIR), when the cron names one.
    public var certificateDirectory: String?
    /// Every `*.crt` and `*.pem` file in it.
    public var certificateFiles: [String] = []

    public init(credentials: SourceCredentials? = nil, certificateDirectory: String? = nil, certificateFiles: [String] = []) {
        self.credentials = credentials
        self.certificateDirectory = certificateDirectory
        self.certificateFiles = certificateFiles
    }
}

/// Secrets and ConfigMaps laid out as Kubernetes mounts them (`--secrets DIR`): a Secret NAME is the directory
/// `DIR/NAME` with one file per key, a ConfigMap likewise. Kubernetes' own `..data` indirection (keys as symlinks
/// into a timestamped directory) reads the same.
public struct SecretsDirectory: Sendable {
    public let root: String?

    public init(root: String?) { self.root = root }

    /// The access a cron's source asks for; errors name the Secret or ConfigMap and the missing file, never a value.
    public func access(for source: CronSource) throws -> SourceAccess {
        var access = SourceAccess()
        if let secret = source.secretRef {
            let dir = try directory(of: "secret", secret, field: "\(source.kind).secretRef")
            access.credentials = SourceCredentials(
                accessKeyId: try key("accessKeyId", in: dir, secret: secret),
                secretKey: try key("secretKey", in: dir, secret: secret))
        }
        if let configMap = source.certConfigMap {
            let dir = try directory(of: "config map", configMap, field: "\(source.kind).certConfigMap")
            access.certificateDirectory = dir
            access.certificateFiles = try FileSystem.list(dir)
                .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".crt") || $0.hasSuffix(".pem")) }
                .map { "\(dir)/\($0)" }
                .filter(FileSystem.isRegularFile)
            if access.certificateFiles.isEmpty {
                throw DiskImportError(.tls, "config map \(configMap) (\(dir)) holds no *.crt or *.pem file")
            }
        }
        return access
    }

    private func directory(of what: String, _ name: String, field: String) throws -> String {
        guard let root else {
            throw DiskImportError.usage("\(field) names \(what) \(name), but no --secrets directory was given")
        }
        let dir = "\(root)/\(name)"
        guard FileSystem.isDirectory(dir) else {
            throw DiskImportError(.auth, "\(what) \(name) not found: \(dir) is not a directory")
        }
        return dir
    }

    private func key(_ key: String, in dir: String, secret: String) throws -> String {
        let path = "\(dir)/\(key)"
        guard FileSystem.isRegularFile(path) else {
            throw DiskImportError(.auth, "secret \(secret) has no key \(key) (\(path))")
        }
        var value = try FileSystem.readText(path)
        // Files written by hand usually end with a newline that is not part of the value.
        while value.hasSuffix("\n") || value.hasSuffix("\r") { value.removeLast() }
        return value
    }
}
