import DiskImportCore

/// A DataImportCron as CDI defines it (cdi.kubevirt.io/v1beta1), reduced to what the local controller acts on.
public struct DataImportCron: Sendable, Equatable {
    /// `metadata.name`.
    public var name: String
    /// `metadata.namespace`, kept for status and the metric's labels; the local controller has one namespace.
    public var namespace: String?
    public var labels: [String: String] = [:]
    public var annotations: [String: String] = [:]
    /// `spec.schedule`; nil when empty, which means never poll.
    public var schedule: CronSchedule?
    /// `spec.template.spec.source.registry`.
    public var source: RegistrySource
    /// `spec.template.spec.storage` (or `.pvc`).
    public var storage: StorageRequest
    /// `spec.template.spec.preallocation`.
    public var preallocation: Bool = false
    /// `spec.garbageCollect`, default Outdated.
    public var garbageCollect: GarbageCollectPolicy = .outdated
    /// `spec.importsToKeep`, default 3.
    public var importsToKeep: Int = 3
    /// `spec.managedDataSource`: the DataSource this cron keeps pointed at its newest good import.
    public var managedDataSource: String
    /// `spec.retentionPolicy`, default All: what happens to imports and the DataSource when the cron is deleted.
    public var retentionPolicy: RetentionPolicy = .all
    /// Whether the cron came from the built-in common templates (HyperConverged's system-defined boot sources).
    public var commonTemplate = false

    public init(name: String, schedule: CronSchedule?, source: RegistrySource, storage: StorageRequest, managedDataSource: String) {
        self.name = name
        self.schedule = schedule
        self.source = source
        self.storage = storage
        self.managedDataSource = managedDataSource
    }

    /// CDI's default for `spec.importsToKeep`.
    public static let defaultImportsToKeep = 3
}

/// `spec.template.spec.source.registry`.
public struct RegistrySource: Sendable, Equatable {
    /// `docker://host/repository:tag` (or `@sha256:…`).
    public var url: String
    /// Name of a Secret with `accessKeyId` and `secretKey`.
    public var secretRef: String?
    /// Name of a ConfigMap whose `*.crt` / `*.pem` files are trusted CA certificates.
    public var certConfigMap: String?
    public var pullMethod: PullMethod = .pod
    /// `platform.architecture`: which image of a multi-arch index to import (the digest polled is the index's).
    public var architecture: String?

    public init(url: String) { self.url = url }

    /// The reference the import uses for one digest: the URL without its tag, `@digest` appended, as CDI's
    /// untagDigestedDockerURL does (`docker://quay.io/x/fedora:41` → `docker://quay.io/x/fedora@sha256:…`).
    public func reference(pinnedTo digest: String) -> String {
        let scheme = "docker://"
        var rest = url.hasPrefix(scheme) ? String(url.dropFirst(scheme.count)) : url
        if let at = rest.firstIndex(of: "@") {
            rest = String(rest[..<at])
        } else if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            rest = String(rest[..<colon])
        }
        return scheme + rest + "@" + digest
    }
}

public enum PullMethod: String, Sendable, Equatable {
    case pod
    case node
}

/// `spec.template.spec.storage`: the size to request and the class to put it in.
public struct StorageRequest: Sendable, Equatable {
    /// `resources.requests.storage` in bytes; nil means the image's own virtual size.
    public var size: UInt64?
    /// The text as written, for status (`30Gi`).
    public var sizeText: String?
    public var storageClassName: String?
    /// Written as `pvc:` rather than `storage:`: the request is the volume's capacity as is, not inflated by the
    /// filesystem overhead (CDI's two APIs).
    public var isPVCSpec = false

    public init(size: UInt64? = nil, sizeText: String? = nil, storageClassName: String? = nil) {
        self.size = size
        self.sizeText = sizeText
        self.storageClassName = storageClassName
    }
}

public enum GarbageCollectPolicy: String, Sendable, Equatable, Codable {
    case outdated = "Outdated"
    case never = "Never"
}

public enum RetentionPolicy: String, Sendable, Equatable, Codable {
    case all = "All"
    case none = "None"
}

/// Kubernetes object names as the controller uses them in file names: DNS-1123 subdomains
/// (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253 characters).
enum ObjectName {
    static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let bytes = Array(name.utf8)
        func alnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
        guard alnum(bytes[0]), alnum(bytes[bytes.count - 1]) else { return false }
        return bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }
}
