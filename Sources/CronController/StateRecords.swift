/// A condition as Kubernetes objects carry them; the cron has two, `UpToDate` and `Progressing`.
public struct CronCondition: Codable, Equatable, Sendable {
    public var type: String
    /// "True" or "False", as in Kubernetes.
    public var status: String
    public var reason: String
    public var message: String
    public var lastTransitionTime: UTCInstant
    public var lastHeartbeatTime: UTCInstant

    public var isTrue: Bool { status == "True" }
}

/// Condition types and CDI's reasons (pkg/controller/dataimportcron-conditions.go), plus the local ones that
/// CDI expresses through its poller pods and DataVolume phases.
public enum CronConditionType {
    public static let upToDate = "UpToDate"
    public static let progressing = "Progressing"
}

public enum CronReason {
    public static let noDigest = "NoDigest"
    public static let noImport = "NoImport"
    public static let outdated = "Outdated"
    public static let importProgressing = "ImportProgressing"
    public static let upToDate = "UpToDate"
    /// The registry refused the credentials (or none were given where they are needed).
    public static let notAuthorized = "NotAuthorized"
    /// The last import failed; the DataSource stays where it was.
    public static let importFailed = "ImportFailed"
    /// No storage class to import into: the import waits (CDI's pending PVC, the metric's `pending="true"`).
    public static let noStorageClass = "NoStorageClass"
    /// The class's `dataImportCronSourceFormat: snapshot` cannot be honoured on its filesystem.
    public static let snapshotsNotSupported = "SnapshotsNotSupported"
}

/// An import in flight or last attempted: CDI's `status.currentImports[]` (`Digest`, `DataVolumeName`).
public struct ImportStatus: Codable, Equatable, Sendable {
    public var digest: String
    public var volume: String
}

/// Everything the controller remembers about one cron between ticks: CDI's DataImportCron status, and what the
/// local controller needs to handle the cron's deletion and retries.
public struct CronStatusRecord: Codable, Equatable, Sendable {
    public var name: String
    public var managedDataSource: String
    /// From the last configuration seen, so a cron deleted from the configuration is cleaned up as it asked.
    public var retentionPolicy: RetentionPolicy
    public var commonTemplate: Bool = false
    public var conditions: [CronCondition] = []
    /// CDI's `lastImportedPVC.name`: the volume of the last successful import.
    public var lastImportedVolume: String?
    public var lastImportedDigest: String?
    public var lastImportTimestamp: UTCInstant?
    /// The last successful poll of the source digest.
    public var lastExecutionTimestamp: UTCInstant?
    public var currentImports: [ImportStatus] = []
    /// The digest the source pointed at when last polled (CDI's `storage.import.sourceDesiredDigest`); for an HTTP
    /// file, the server's identity of it (`HTTPSourceIdentity`).
    public var sourceDesiredDigest: String?
    /// The file's checksum from the checksums file at the last poll (`sha256:HEX`), for an HTTP source with one.
    public var sourceChecksum: String?
    /// The URL the last successful poll read: a conditional request is made only against the same URL.
    public var polledURL: String?
    /// The last poll or import attempt, successful or not, and how many in a row failed: the run loop's backoff.
    public var lastAttempt: UTCInstant?
    public var consecutiveFailures: Int = 0
    /// The last error, one line, never a credential.
    public var lastError: String?

    public init(name: String, managedDataSource: String, retentionPolicy: RetentionPolicy) {
        self.name = name
        self.managedDataSource = managedDataSource
        self.retentionPolicy = retentionPolicy
    }

    public func condition(_ type: String) -> CronCondition? { conditions.first { $0.type == type } }

    /// Sets a condition, keeping its transition time when the status does not change (as CDI's updateConditionState).
    public mutating func setCondition(_ type: String, _ status: Bool, reason: String, message: String, now: UTCInstant) {
        let statusText = status ? "True" : "False"
        if let i = conditions.firstIndex(where: { $0.type == type }) {
            if conditions[i].status != statusText { conditions[i].lastTransitionTime = now }
            conditions[i].status = statusText
            conditions[i].reason = reason
            conditions[i].message = message
            conditions[i].lastHeartbeatTime = now
        } else {
            conditions.append(CronCondition(type: type, status: statusText, reason: reason, message: message,
                                            lastTransitionTime: now, lastHeartbeatTime: now))
        }
    }

    /// The `kubevirt_cdi_dataimportcron_outdated` gauge: 1 unless UpToDate is True.
    /// The import waits for a storage class (CDI's pending PVC without a default class).
    public var isWaitingForStorageClass: Bool { condition(CronConditionType.upToDate)?.reason == CronReason.noStorageClass }

    public var outdatedGaugeValue: Int { condition(CronConditionType.upToDate)?.isTrue == true ? 0 : 1 }
}

/// A DataSource: the name consumers (VM templates) use, pointing at the newest good import.
public struct DataSourceRecord: Codable, Equatable, Sendable {
    public var name: String
    /// The cron that manages it.
    public var cron: String
    /// The volume it resolves to; nil when it points at nothing.
    public var volume: String?
    public var ready: Bool
    public var updated: UTCInstant?
    /// The file it resolves to: the volume's disk, or its snapshot for a `snapshot` class.
    public var path: String?
    /// `pvc` or `snapshot`: what it points at (CDI's DataSource source kind).
    public var sourceFormat: String?
    /// The DataSource this one points at (CDI's `spec.source.dataSource`): its volume, path and readiness are that
    /// one's. `cron` is empty for such a reference.
    public var reference: String?

    public init(name: String, cron: String, volume: String? = nil, ready: Bool = false, updated: UTCInstant? = nil,
                path: String? = nil, sourceFormat: String? = nil) {
        self.name = name
        self.cron = cron
        self.volume = volume
        self.ready = ready
        self.updated = updated
        self.path = path
        self.sourceFormat = sourceFormat
    }

    /// Points at nothing and is not ready.
    mutating func reset() {
        volume = nil
        ready = false
        path = nil
        sourceFormat = nil
        reference = nil
    }
}

/// One imported volume: `<class root>/volumes/<name>/disk.img`, written once and never changed.
public struct VolumeRecord: Codable, Equatable, Sendable {
    public var name: String
    public var cron: String
    public var dataSource: String
    public var digest: String
    /// What it was imported from: the pinned reference (`docker://…@sha256:…`), or an HTTP file's URL.
    public var source: String
    public var created: UTCInstant
    /// When a DataSource last pointed at it (CDI's `storage.import.lastUseTime`): garbage collection keeps the
    /// most recently used.
    public var lastUse: UTCInstant
    public var path: String
    public var size: UInt64?
    /// The storage class it lives in; nil in records written before classes existed (the `default` class).
    public var storageClass: String?
    /// The capacity it was given: `required(request, overhead)` for a `storage:` request, the request for `pvc:`.
    public var capacity: UInt64?
    /// Its reflink snapshot, `<class root>/snapshots/<name>/disk.img`, in a `snapshot` class.
    public var snapshotPath: String?
    /// A delta volume: the volume whose blocks it shares (`convert --reference`), the data bytes it stored itself and
    /// those it shares, as of its import; nil for a full copy and in records from before delta volumes.
    public var referenceVolume: String? = nil
    public var ownBytes: UInt64? = nil
    public var sharedBytes: UInt64? = nil

    /// The class, with records from before classes counted as `default`.
    public var className: String { storageClass ?? StorageClasses.defaultName }
    /// The volume's directory (`…/volumes/<name>`).
    public var directory: String { FileSystem.split(path).directory }
}

/// What HCO keeps in a HyperConverged's status that the local controller must keep too.
public struct HyperConvergedStatusRecord: Codable, Equatable, Sendable {
    /// The common templates' randomised schedule (`status.dataImportSchedule`).
    public var dataImportSchedule: String?
}
