import DiskImportCore
import Foundation
import Logging
import Target

/// The local DataImportCron controller: owns one STORAGE directory (holding its lock for its whole life) and
/// evaluates every configured cron once per `tick`.
public final class DataImportCronController: Sendable {
    public let store: StateStore
    private let lock: StorageLock
    private let poller: SourcePoller
    private let importer: VolumeImporter
    private let secrets: SecretsDirectory
    private let parallel: Int
    private let overheadArithmetic: OverheadArithmetic
    private let logger: Logger
    /// `--storage-classes FILE`, re-read every tick; nil means STORAGE is the one class `default`.
    private let storageClassesPath: String?
    private let lastStorageClasses: LastGood<StorageClasses>

    /// The result of one tick: what happened to each cron, and the errors that stopped a cron's reconcile
    /// (state that could not be written, say), as opposed to the failures its conditions record. Each error is
    /// also a `.failed` outcome, so presenting the outcomes presents every failure once.
    public struct TickResult: Sendable {
        public var outcomes: [CronTickOutcome]
        public var errors: [String]

        /// The crons whose poll, import or reconcile failed this tick.
        public var failedCrons: [String] {
            outcomes.compactMap { if case .failed = $0.action { $0.cron } else { nil } }
        }
    }

    /// Whether STORAGE was new (or empty) and this controller created its state: `StorageDirectory.forController`.
    public let isFirstRun: Bool

    /// Takes STORAGE's lock (failing at once when another controller holds it) and prepares its layout. STORAGE
    /// must hold cron state already, or be a first run (`StorageDirectory`); it is used as an absolute path.
    /// Reads `storageClassesPath` once here, so a bad file fails at start. Volumes are sized with
    /// `overheadArithmetic`: which CDI release's formulas the claims follow.
    public init(storage: String, poller: SourcePoller, importer: VolumeImporter, secrets: SecretsDirectory,
                parallel: Int = 1, storageClassesPath: String? = nil, overheadArithmetic: OverheadArithmetic = .current,
                logger: Logger = Log.logger("cron")) throws {
        // A bad classes file fails before anything is created.
        let classes = try storageClassesPath.map(StorageClasses.load)
        let (root, firstRun) = try StorageDirectory.forController(storage)
        isFirstRun = firstRun
        lock = try StorageLock(storage: root)
        store = StateStore(root: root)
        try store.prepare()
        store.removeStaleRecordTemporaries()
        self.storageClassesPath = storageClassesPath
        lastStorageClasses = LastGood(classes ?? StorageClasses.single(root: store.root))
        self.poller = poller
        self.importer = importer
        self.secrets = secrets
        self.parallel = max(1, parallel)
        self.overheadArithmetic = overheadArithmetic
        self.logger = logger
    }

    /// One evaluation at `now`: remove half-written volumes, clean up crons deleted from the configuration, then
    /// reconcile every cron, up to `parallel` at once (each cron's own work is sequential: one import at a time).
    public func tick(_ config: CronConfig, now: UTCInstant) throws -> TickResult {
        let config = try scheduled(config)
        let classes = currentStorageClasses()
        try removeHalfWrittenVolumes(roots: classes.classes.map(\.root))
        try cleanUpDeletedCrons(keeping: Set(config.crons.map(\.name)))
        let reconciler = CronReconciler(store: store, poller: poller, importer: importer, secrets: secrets,
                                        settings: config.hyperConverged ?? HyperConvergedSettings(), storageClasses: classes,
                                        overheadArithmetic: overheadArithmetic, logger: logger)
        let results = ParallelResults(count: config.crons.count)
        let workers = min(parallel, config.crons.count)
        let crons = config.crons
        if workers <= 1 {
            for (i, cron) in crons.enumerated() { results.set(i, Self.run(reconciler, cron, now)) }
        } else {
            let group = DispatchGroup()
            for _ in 0..<workers {
                group.enter()
                let thread = Thread {
                    while let i = results.claim() { results.set(i, Self.run(reconciler, crons[i], now)) }
                    group.leave()
                }
                thread.start()
            }
            group.wait()
        }
        var outcomes: [CronTickOutcome] = [], errors: [String] = []
        for (i, result) in results.all.enumerated() {
            switch result {
            case .success(let outcome): outcomes.append(outcome)
            case .failure(let message):
                errors.append("\(crons[i].name): \(message)")
                outcomes.append(CronTickOutcome(cron: crons[i].name, polled: false, digest: nil, action: .failed(message)))
            case nil:
                errors.append("\(crons[i].name): not reconciled")
                outcomes.append(CronTickOutcome(cron: crons[i].name, polled: false, digest: nil, action: .failed("not reconciled")))
            }
        }
        try updateReferences(config.dataSourceReferences, now: now)
        return TickResult(outcomes: outcomes, errors: errors)
    }

    /// `config` as the controller runs it: the common templates on HCO's randomised schedule, made and stored on
    /// the first tick that needs it (`DataImportSchedule`).
    public func scheduled(_ config: CronConfig) throws -> CronConfig {
        try DataImportSchedule.applyingOrMaking(config, store: store)
    }

    private static func run(_ reconciler: CronReconciler, _ cron: DataImportCron, _ now: UTCInstant) -> ParallelResults.Result {
        do {
            return .success(try reconciler.reconcile(cron, now: now))
        } catch {
            return .failure(CronReconciler.oneLine(error))
        }
    }

    /// The storage classes for this tick: the file re-read (a default class changed by hand counts from the next
    /// tick), or the last good ones when it cannot be read now.
    private func currentStorageClasses() -> StorageClasses {
        if let storageClassesPath {
            do {
                lastStorageClasses.set(try StorageClasses.load(path: storageClassesPath))
            } catch {
                logger.error("keeping the previous storage classes: \(CronReconciler.oneLine(error))")
            }
        }
        let classes = lastStorageClasses.get()
        for warning in classes.warnings { logger.warning("\(warning)") }
        return classes
    }

    /// Volumes whose import marker is still there were being written when a controller died. The record of a
    /// volume of that name in another class (a re-import into a new default class) is not this directory's.
    private func removeHalfWrittenVolumes(roots: [String]) throws {
        for (volume, directory) in try store.halfWrittenVolumes(roots: roots) {
            logger.warning("removing half-written volume \(volume) left by an interrupted import")
            if let record = try store.volume(volume), record.directory == directory {
                try store.removeVolume(volume)
            } else {
                try FileSystem.removeTree(directory)
            }
        }
    }

    /// A cron gone from the configuration, as CDI's cleanup and SSP leave it: with `retentionPolicy: None` its
    /// volumes go (HCO gives the built-in boot sources None); with `All` they stay. Its DataSource goes with it
    /// under None, except a system-defined boot source's, which SSP keeps and resets to point at nothing (as when
    /// the feature gate or the enable annotation turns it off). Its status is forgotten.
    private func cleanUpDeletedCrons(keeping configured: Set<String>) throws {
        for status in try store.crons() where !configured.contains(status.name) {
            let retention = status.retentionPolicy == .none ? "None" : "All"
            if status.retentionPolicy == .none {
                for volume in try store.volumes() where volume.cron == status.name {
                    logger.info("\(status.name) was deleted with retentionPolicy None: deleting volume \(volume.name)")
                    try store.removeVolume(volume.name)
                }
            } else {
                logger.info("\(status.name) was deleted; its volumes are kept (retentionPolicy All)")
            }
            if var dataSource = try store.dataSource(status.managedDataSource), dataSource.cron == status.name {
                if status.commonTemplate {
                    logger.info("\(status.name) is no longer enabled: DataSource \(dataSource.name) reset")
                    dataSource.reset()
                    try store.save(dataSource)
                } else if status.retentionPolicy == .none {
                    logger.info("\(status.name) was deleted with retentionPolicy None: deleting DataSource \(dataSource.name)")
                    try store.removeDataSource(dataSource.name)
                } else {
                    logger.info("\(status.name) was deleted; DataSource \(dataSource.name) is kept (retentionPolicy \(retention))")
                }
            }
            try store.removeCron(status.name)
        }
    }
}

/// A value replaced whole under a lock: the last storage classes read successfully.
private final class LastGood<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}

/// Work handed out to worker threads by index, and the results they hand back.
private final class ParallelResults: @unchecked Sendable {
    enum Result {
        case success(CronTickOutcome)
        case failure(String)
    }

    private let lock = NSLock()
    private var next = 0
    private var results: [Result?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func claim() -> Int? {
        lock.withLock {
            guard next < results.count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func set(_ index: Int, _ result: Result) { lock.withLock { results[index] = result } }

    var all: [Result?] { lock.withLock { results } }
}
