import DiskImportCore
import Fetch
import Logging
import Target

/// What one tick did to one cron, for the command line.
public struct CronTickOutcome: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Not due and nothing pending.
        case idle
        /// Polled (or had a pending digest) and the DataSource already points at it.
        case upToDate
        /// Imported a new volume and moved the DataSource to it.
        case imported(volume: String)
        /// Moved the DataSource to a volume imported earlier for the same digest.
        case reused(volume: String)
        /// The poll or the import failed; the DataSource did not move.
        case failed(String)
        /// No digest known yet (empty schedule, never polled).
        case noDigest
        /// No storage class to import into: the import waits.
        case waiting(String)
    }

    public var cron: String
    public var polled: Bool
    public var digest: String?
    public var action: Action
}

/// One cron's reconcile: CDI's DataImportCron controller loop, run synchronously against the local store.
///
/// Order matters for safety: the import marker is written before any byte, the volume record after the last
/// one, the marker removed after the record, and only then does the DataSource move.
struct CronReconciler {
    let store: StateStore
    let poller: SourcePoller
    let importer: VolumeImporter
    let secrets: SecretsDirectory
    let settings: HyperConvergedSettings
    let storageClasses: StorageClasses
    let overheadArithmetic: OverheadArithmetic
    let logger: Logger

    /// Whether the cron's schedule asks for a poll at `now`: never with an empty schedule, at once when it has
    /// never polled (CDI's initial job), else when the first firing time after the last poll has come.
    static func isDue(_ cron: DataImportCron, _ status: CronStatusRecord, now: UTCInstant) -> Bool {
        guard let schedule = cron.schedule else { return false }
        guard let last = status.lastExecutionTimestamp else { return true }
        guard let next = try? schedule.next(after: last) else { return false }
        return next <= now
    }

    /// `<managedDataSource>-<first 12 hex digits of the digest>`, CDI's createDvName; for an HTTP file, of a SHA-256
    /// of its identity.
    static func volumeName(_ cron: DataImportCron, digest: String) throws -> String {
        switch cron.source {
        case .registry: "\(cron.managedDataSource)-\(digest.dropFirst("sha256:".count).prefix(12))"
        case .http: "\(cron.managedDataSource)-\(try HTTPSourceIdentity.volumeSuffix(of: digest))"
        }
    }

    static func isValidDigest(_ digest: String) -> Bool {
        guard digest.hasPrefix("sha256:") else { return false }
        let hex = digest.utf8.dropFirst("sha256:".count)
        return hex.count == 64 && hex.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Whether a polled version is one the source kind can have: a registry's `sha256:` digest, an HTTP identity.
    static func checkVersion(_ version: SourceVersion, of source: CronSource) throws {
        switch source {
        case .registry:
            guard isValidDigest(version.digest) else {
                throw DiskImportError.corrupt("registry returned digest \"\(version.digest.prefix(80))\", not sha256:<64 hex digits>")
            }
        case .http:
            guard HTTPSourceIdentity(stored: version.digest) != nil else {
                throw DiskImportError.corrupt("the server's identity of the file \"\(version.digest.prefix(80))\" is not an ETag or a Last-Modified date")
            }
        }
    }

    func reconcile(_ cron: DataImportCron, now: UTCInstant) throws -> CronTickOutcome {
        var status = try store.cron(cron.name)
            ?? CronStatusRecord(name: cron.name, managedDataSource: cron.managedDataSource, retentionPolicy: cron.retentionPolicy)
        status.managedDataSource = cron.managedDataSource
        status.retentionPolicy = cron.retentionPolicy
        status.commonTemplate = cron.commonTemplate
        var dataSource = try store.dataSource(cron.managedDataSource) ?? DataSourceRecord(name: cron.managedDataSource, cron: cron.name)
        dataSource.cron = cron.name
        dataSource.reference = nil
        try forgetInterruptedImports(&status)
        try checkDataSourceTarget(&dataSource, now: now)

        var outcome = CronTickOutcome(cron: cron.name, polled: false, digest: status.sourceDesiredDigest, action: .idle)
        var access: SourceAccess?
        if Self.isDue(cron, status, now: now) {
            outcome.polled = true
            status.lastAttempt = now
            do {
                let resolved = try secrets.access(for: cron.source)
                access = resolved
                // The version seen last is worth a conditional request only for the same URL.
                let previous = status.polledURL == cron.source.url ? status.sourceDesiredDigest : nil
                let version = try poller.poll(cron.source, previous: previous, access: resolved)
                try Self.checkVersion(version, of: cron.source)
                let digest = version.digest
                if digest != status.sourceDesiredDigest {
                    logger.info("\(cron.name): \(cron.source.displayURL) now points at \(digest)")
                }
                status.sourceDesiredDigest = digest
                status.sourceChecksum = version.checksum
                status.polledURL = cron.source.url
                status.lastExecutionTimestamp = now
                outcome.digest = digest
            } catch {
                let message = Self.oneLine(error)
                let reason = (error as? DiskImportError)?.kind == .auth ? CronReason.notAuthorized : CronReason.noDigest
                // Reported once, by whoever presents the outcome (the tick's line, the run loop's log).
                logger.debug("\(cron.name): polling \(cron.source.displayURL) failed: \(message)")
                recordFailure(&status, message)
                status.setCondition(CronConditionType.upToDate, false, reason: reason,
                                    message: "Polling \(cron.source.displayURL) failed: \(message)", now: now)
                status.setCondition(CronConditionType.progressing, false, reason: CronReason.noImport, message: "No current import", now: now)
                try save(status, dataSource)
                outcome.digest = nil
                outcome.action = .failed(message)
                return outcome
            }
        }

        guard let desired = status.sourceDesiredDigest else {
            status.setCondition(CronConditionType.upToDate, false, reason: CronReason.noDigest, message: "No source digest", now: now)
            status.setCondition(CronConditionType.progressing, false, reason: CronReason.noImport, message: "No current import", now: now)
            try save(status, dataSource)
            outcome.action = .noDigest
            return outcome
        }

        // The class the volume belongs in now: a changed default class re-imports there (CDI's storage class change).
        let storageClass: StorageClass
        do {
            storageClass = try storageClasses.choose(requested: cron.storage.storageClassName)
        } catch {
            let message = Self.oneLine(error)
            logger.debug("\(cron.name): waiting for a storage class: \(message)")
            status.setCondition(CronConditionType.upToDate, false, reason: CronReason.noStorageClass,
                                message: "Waiting for a storage class: \(message)", now: now)
            status.setCondition(CronConditionType.progressing, false, reason: CronReason.noImport, message: "No current import", now: now)
            try save(status, dataSource)
            outcome.action = .waiting(message)
            return outcome
        }

        let volume = try Self.volumeName(cron, digest: desired)
        let existing = try store.volume(volume).flatMap { record in
            record.digest == desired && record.className == storageClass.name && FileSystem.isRegularFile(record.path) ? record : nil
        }
        let alreadyCurrent = existing != nil && dataSource.volume == volume
        if !alreadyCurrent {
            status.setCondition(CronConditionType.upToDate, false, reason: CronReason.outdated,
                                message: "Source digest updated since last import", now: now)
        }
        if existing == nil || storageClass.sourceFormat == .snapshot && existing?.snapshotPath == nil {
            // Storage that cannot snapshot is found out before any import, not after.
            if storageClass.sourceFormat == .snapshot {
                do {
                    try ReflinkSnapshot.probe("\(storageClass.root)/snapshots", storageClass: storageClass.name)
                } catch {
                    return try snapshotFailure(error, cron: cron, status: &status, dataSource: dataSource, outcome: &outcome, now: now)
                }
            }
        }
        if existing != nil {
            if !alreadyCurrent {
                logger.info("\(cron.name): reusing volume \(volume) imported earlier for \(desired)")
                outcome.action = .reused(volume: volume)
            }
        } else {
            do {
                let resolved = try access ?? secrets.access(for: cron.source)
                try importVolume(cron, digest: desired, volume: volume, into: storageClass, access: resolved, status: &status, now: now)
                outcome.action = .imported(volume: volume)
            } catch {
                let message = Self.oneLine(error)
                logger.debug("\(cron.name): import of \(desired) failed: \(message)")
                try? FileSystem.removeTree(store.volumeDirectory(volume, root: storageClass.root))
                status.currentImports = []
                status.lastAttempt = now
                recordFailure(&status, message)
                status.setCondition(CronConditionType.upToDate, false, reason: CronReason.outdated,
                                    message: "Source digest updated since last import; import of \(desired) failed: \(message)", now: now)
                status.setCondition(CronConditionType.progressing, false, reason: CronReason.importFailed, message: message, now: now)
                try save(status, dataSource)
                outcome.action = .failed(message)
                return outcome
            }
        }

        // Only now, with a complete volume (and its snapshot, in a snapshot class), does the DataSource move.
        guard var record = try store.volume(volume) else {
            throw DiskImportError(.io, "volume \(volume) has no record after its import")
        }
        if storageClass.sourceFormat == .snapshot && record.snapshotPath == nil {
            let snapshot = store.snapshotPath(volume, root: storageClass.root)
            do {
                try FileSystem.makeDirectories(FileSystem.split(snapshot).directory)
                try ReflinkSnapshot.clone(record.path, to: snapshot, storageClass: storageClass.name)
            } catch {
                return try snapshotFailure(error, cron: cron, status: &status, dataSource: dataSource, outcome: &outcome, now: now)
            }
            record.snapshotPath = snapshot
            try store.save(record)
        }
        try touch(record, now: now)
        let format = storageClass.sourceFormat == .snapshot ? StorageClass.SourceFormat.snapshot : .pvc
        let path = format == .snapshot ? record.snapshotPath ?? record.path : record.path
        let moved = dataSource.volume != volume || dataSource.path != path || !dataSource.ready
        dataSource.volume = volume
        dataSource.ready = true
        dataSource.path = path
        dataSource.sourceFormat = format.rawValue
        if moved {
            dataSource.updated = now
            status.lastImportTimestamp = now
            logger.info("\(cron.name): DataSource \(dataSource.name) now points at \(volume) (\(format.rawValue))")
        } else {
            outcome.action = outcome.polled ? .upToDate : .idle
        }
        markUpToDate(&status, volume: volume, digest: desired, now: now)
        try save(status, dataSource)
        try collectGarbage(cron, current: volume)
        return outcome
    }

    /// The class's `dataImportCronSourceFormat: snapshot` cannot be met: the cron is not up to date and says why;
    /// the DataSource stays where it was.
    private func snapshotFailure(_ error: Error, cron: DataImportCron, status: inout CronStatusRecord, dataSource: DataSourceRecord,
                                 outcome: inout CronTickOutcome, now: UTCInstant) throws -> CronTickOutcome {
        let message = Self.oneLine(error)
        logger.debug("\(cron.name): \(message)")
        recordFailure(&status, message)
        status.lastAttempt = now
        status.setCondition(CronConditionType.upToDate, false, reason: CronReason.snapshotsNotSupported, message: message, now: now)
        status.setCondition(CronConditionType.progressing, false, reason: CronReason.noImport, message: "No current import", now: now)
        try save(status, dataSource)
        outcome.action = .failed(message)
        return outcome
    }

    private func importVolume(_ cron: DataImportCron, digest: String, volume: String, into storageClass: StorageClass,
                              access: SourceAccess, status: inout CronStatusRecord, now: UTCInstant) throws {
        let sizing = try VolumeSizing(requestedSize: cron.storage.size,
                                      filesystemOverhead: settings.filesystemOverhead(storageClass: storageClass.name).using(overheadArithmetic),
                                      inflatedByOverhead: !cron.storage.isPVCSpec)
        // A registry import reads the digest polled; an HTTP one the URL, pinned to the version polled.
        let reference = cron.source.registry?.reference(pinnedTo: digest) ?? cron.source.url
        let pin = cron.source.http != nil ? HTTPSourceIdentity(stored: digest)?.pinHeaders ?? [] : []
        // Scratch goes to scratchSpaceStorageClass when it exists, else to the target's class.
        let scratchClass = settings.scratchSpaceStorageClass.flatMap(storageClasses.named) ?? storageClass
        let scratch = "\(scratchClass.root)/scratch"
        try FileSystem.makeDirectories(scratch)
        let previous = try store.volume(volume)
        status.currentImports = [ImportStatus(digest: digest, volume: volume)]
        status.setCondition(CronConditionType.progressing, true, reason: CronReason.importProgressing,
                            message: "Import is progressing", now: now)
        try store.save(status)
        try store.beginImport(volume, root: storageClass.root)
        logger.info("\(cron.name): importing \(DisplayURL.redacted(reference)) into \(volume) (storage class \(storageClass.name))")
        var request = VolumeImportRequest(cron: cron.name, reference: reference, source: cron.source, access: access, pin: pin,
                                          checksum: cron.source.http != nil ? status.sourceChecksum : nil,
                                          targetPath: store.diskPath(volume, root: storageClass.root), sizing: sizing,
                                          preallocation: cron.preallocation, scratchDirectory: scratch)
        let deltaReference = try DeltaReference.newestVolume(of: cron.name, in: storageClass, besides: volume, store: store)
        request.references = deltaReference.map { [$0.path] } ?? []
        if let deltaReference { logger.info("\(cron.name): \(volume) shares the blocks it can with \(deltaReference.name)") }
        let result = try importer.importVolume(request)
        if result.scratchBytes > 0 {
            logger.info("\(cron.name): \(result.scratchBytes) bytes went through scratch space in \(scratch)")
        }
        guard FileSystem.isRegularFile(request.targetPath) else {
            throw DiskImportError(.io, "the import finished without writing \(request.targetPath)")
        }
        var record = VolumeRecord(name: volume, cron: cron.name, dataSource: cron.managedDataSource, digest: digest,
                                  source: DisplayURL.redacted(reference), created: now, lastUse: now, path: request.targetPath, size: result.size,
                                  storageClass: storageClass.name, capacity: sizing.capacity)
        if let shared = deltaReference {
            record.referenceVolume = shared.name
            record.sharedBytes = result.sharedBytes
            record.ownBytes = result.writtenBytes - min(result.writtenBytes, result.sharedBytes)
        }
        try store.save(record)
        try store.finishImport(volume, root: storageClass.root)
        // The same volume in the class it was in before (a default class change): replaced by this one.
        if let previous, previous.directory != FileSystem.split(request.targetPath).directory {
            logger.info("\(cron.name): removing \(volume) from storage class \(previous.className), re-imported into \(storageClass.name)")
            try FileSystem.removeTree(previous.directory)
            if let snapshot = previous.snapshotPath { try FileSystem.removeTree(FileSystem.split(snapshot).directory) }
        }
    }

    /// An import still listed at the start of a tick did not finish: the controller holding the lock is this one,
    /// so whoever ran it was killed. Its half-written volume was removed before the tick; forget it here.
    private func forgetInterruptedImports(_ status: inout CronStatusRecord) throws {
        for entry in status.currentImports where try store.volume(entry.volume) == nil {
            logger.warning("\(status.name): the import of \(entry.digest) into \(entry.volume) was interrupted; it will be retried")
            status.lastError = "the import of \(entry.digest) into \(entry.volume) was interrupted"
        }
        status.currentImports = []
    }

    /// A DataSource whose volume is gone (deleted by hand) points at nothing and is not ready.
    private func checkDataSourceTarget(_ dataSource: inout DataSourceRecord, now: UTCInstant) throws {
        guard let volume = dataSource.volume else { return }
        let record = try store.volume(volume)
        if !FileSystem.isRegularFile(dataSource.path ?? record?.path ?? store.diskPath(volume)) || record == nil {
            logger.warning("DataSource \(dataSource.name) pointed at \(volume), which no longer exists")
            dataSource.reset()
            dataSource.updated = now
        }
    }

    private func markUpToDate(_ status: inout CronStatusRecord, volume: String, digest: String, now: UTCInstant) {
        status.lastImportedVolume = volume
        status.lastImportedDigest = digest
        status.currentImports = []
        status.consecutiveFailures = 0
        status.lastError = nil
        status.setCondition(CronConditionType.upToDate, true, reason: CronReason.upToDate, message: "Latest import is up to date", now: now)
        status.setCondition(CronConditionType.progressing, false, reason: CronReason.noImport, message: "No current import", now: now)
    }

    private func recordFailure(_ status: inout CronStatusRecord, _ message: String) {
        status.consecutiveFailures += 1
        status.lastError = message
    }

    private func touch(_ record: VolumeRecord, now: UTCInstant) throws {
        guard record.lastUse != now else { return }
        var record = record
        record.lastUse = now
        try store.save(record)
    }

    private func save(_ status: CronStatusRecord, _ dataSource: DataSourceRecord) throws {
        try store.save(dataSource)
        try store.save(status)
    }

    /// `garbageCollect: Outdated`: keep the `importsToKeep` most recently used volumes of this cron and delete
    /// the rest, as CDI's garbageCollectPVCs. Unlike CDI, the volume the DataSource points at is always kept,
    /// even with `importsToKeep: 0`, so the DataSource never dangles.
    private func collectGarbage(_ cron: DataImportCron, current: String) throws {
        guard cron.garbageCollect == .outdated else { return }
        let volumes = try store.volumes().filter { $0.cron == cron.name }.sorted {
            ($0.lastUse, $0.created, $0.name) > ($1.lastUse, $1.created, $1.name)
        }
        var kept = 0
        for volume in volumes {
            if volume.name == current || kept < cron.importsToKeep {
                kept += 1
                continue
            }
            logger.info("\(cron.name): deleting outdated volume \(volume.name) (last used \(volume.lastUse))")
            try store.removeVolume(volume.name)
        }
    }

    static func oneLine(_ error: Error) -> String {
        let text = (error as? DiskImportError)?.message ?? "\(error)"
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
    }
}
