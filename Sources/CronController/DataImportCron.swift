import DiskImportCore
import Fetch

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
    /// `spec.template.spec.source`: a registry image, or (beyond CDI) a file on an HTTP(S) server.
    public var source: CronSource
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
    /// A common template the user changed with a template of the same name (HCO's `status.modified`).
    public var modified = false
    /// The schedule is the common templates' own, which HCO replaces with its randomised `dataImportSchedule`.
    public var usesCommonSchedule = false

    public init(name: String, schedule: CronSchedule?, source: CronSource, storage: StorageRequest, managedDataSource: String) {
        self.name = name
        self.schedule = schedule
        self.source = source
        self.storage = storage
        self.managedDataSource = managedDataSource
    }

    /// CDI's default for `spec.importsToKeep`.
    public static let defaultImportsToKeep = 3
}

/// `spec.template.spec.source`: `registry` as CDI has it, or `http` (which CDI's webhook refuses for a
/// DataImportCron, CDI #3087; kubevirt/community PR #243 proposes it).
public enum CronSource: Sendable, Equatable {
    case registry(RegistrySource)
    case http(HTTPSource)

    public var url: String {
        switch self {
        case .registry(let r): r.url
        case .http(let h): h.url
        }
    }

    public var secretRef: String? {
        get {
            switch self {
            case .registry(let r): r.secretRef
            case .http(let h): h.secretRef
            }
        }
        set {
            switch self {
            case .registry(var r): r.secretRef = newValue; self = .registry(r)
            case .http(var h): h.secretRef = newValue; self = .http(h)
            }
        }
    }

    public var certConfigMap: String? {
        get {
            switch self {
            case .registry(let r): r.certConfigMap
            case .http(let h): h.certConfigMap
            }
        }
        set {
            switch self {
            case .registry(var r): r.certConfigMap = newValue; self = .registry(r)
            case .http(var h): h.certConfigMap = newValue; self = .http(h)
            }
        }
    }

    /// The URL for messages and logs: without credentials or query (`DisplayURL`).
    public var displayURL: String { DisplayURL.redacted(url) }

    /// `registry` or `http`: the key under `source`, for messages.
    public var kind: String {
        switch self {
        case .registry: "registry"
        case .http: "http"
        }
    }

    public var registry: RegistrySource? { if case .registry(let r) = self { r } else { nil } }
    public var http: HTTPSource? { if case .http(let h) = self { h } else { nil } }
}

/// `spec.template.spec.source.http`, with the DataVolume http source's `secretRef` (Basic credentials from
/// `accessKeyId` / `secretKey`) and `certConfigMap`, and an optional checksums file.
public struct HTTPSource: Sendable, Equatable {
    /// `http://` or `https://` URL of the image file.
    public var url: String
    public var secretRef: String?
    public var certConfigMap: String?
    /// A checksums file (`SHA256SUMS`, Fedora's `CHECKSUM`), absolute or relative to `url`: fetched each poll, and
    /// the import verified against its line for the image's file name.
    public var checksumsURL: String?

    public init(url: String) { self.url = url }

    /// The image's file name: the last path segment of `url`, percent-decoded, as checksum files list it.
    public var fileName: String {
        var path = url
        if let end = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<end]) }
        let last = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        return last.removingPercentEncodingOrSelf
    }

    /// `checksumsURL` resolved against `url` (RFC 3986 §5.2, for the common cases: absolute, `/path`, relative).
    public var resolvedChecksumsURL: String? {
        guard let reference = checksumsURL else { return nil }
        if reference.contains("://") { return reference }
        guard let schemeEnd = url.range(of: "://") else { return reference }
        let afterScheme = url[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        let origin = String(url[..<authorityEnd])
        if reference.hasPrefix("/") { return origin + reference }
        var base = String(url[authorityEnd...])
        if let end = base.firstIndex(where: { $0 == "?" || $0 == "#" }) { base = String(base[..<end]) }
        let directory = base.lastIndex(of: "/").map { String(base[...$0]) } ?? "/"
        return origin + directory + reference
    }
}

extension String {
    /// `%XX` escapes decoded (UTF-8); the text as is when an escape is malformed.
    var removingPercentEncodingOrSelf: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var utf8 = Array(self.utf8)[...]
        while let b = utf8.first {
            utf8 = utf8.dropFirst()
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else { return self }
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self) ?? self
    }
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

/// CDI's DataImportCronRetentionPolicy: `All` (the constant DataImportCronRetainAll, also accepted as written
/// `RetainAll`) keeps the DataSource and volumes when the cron is deleted; `None` deletes them.
public enum RetentionPolicy: String, Sendable, Equatable, Codable {
    case all = "All"
    case none = "None"

    /// Reads the spec's value: CDI's `All` and `None`, and `RetainAll` as an alias of `All`.
    public init?(spec text: String) {
        if text == "RetainAll" { self = .all } else { self.init(rawValue: text) }
    }
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
