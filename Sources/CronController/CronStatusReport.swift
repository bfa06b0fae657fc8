import DiskImportCore

/// What `diskimport cron status` shows: every cron (configured, or deleted and not yet cleaned up), every
/// DataSource and every volume, read from the store without taking its lock (records are replaced atomically,
/// so a running controller never shows a torn one).
public struct CronStatusReport: Sendable {
    public struct CronRow: Sendable {
        public var name: String
        public var configured: Bool
        public var cron: DataImportCron?
        public var status: CronStatusRecord?
        public var nextPoll: UTCInstant?
    }

    public var crons: [CronRow]
    public var dataSources: [DataSourceRecord]
    public var volumes: [VolumeRecord]
    /// A HyperConverged configuration's templates, as HCO reports them.
    public var templates: [TemplateStatus]
    /// The common templates' randomised schedule, once a tick has made it (or the object's own).
    public var dataImportSchedule: String?

    public init(config: CronConfig, store: StateStore, now: UTCInstant) throws {
        let config = try DataImportSchedule.applyingCurrent(config, store: store)
        templates = config.templates
        dataImportSchedule = DataImportSchedule.isNeeded(by: config) ? try DataImportSchedule.current(config, store: store) : nil
        let statuses = Dictionary(try store.crons().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var rows = config.crons.map { cron -> CronRow in
            let status = statuses[cron.name]
            return CronRow(name: cron.name, configured: true, cron: cron, status: status, nextPoll: Self.nextPoll(cron, status, now))
        }
        let configured = Set(config.crons.map(\.name))
        rows += statuses.values.filter { !configured.contains($0.name) }.sorted { $0.name < $1.name }
            .map { CronRow(name: $0.name, configured: false, cron: nil, status: $0, nextPoll: nil) }
        crons = rows
        dataSources = try store.dataSources().sorted { $0.name < $1.name }
        volumes = try store.volumes().sorted { ($0.cron, $0.created, $0.name) < ($1.cron, $1.created, $1.name) }
    }

    /// When the cron polls next: `now` when it never has or is overdue (a failed poll is retried), nil with an
    /// empty schedule.
    static func nextPoll(_ cron: DataImportCron, _ status: CronStatusRecord?, _ now: UTCInstant) -> UTCInstant? {
        guard let schedule = cron.schedule else { return nil }
        guard let last = status?.lastExecutionTimestamp else { return now }
        return (try? schedule.next(after: last)).map { max($0, now) }
    }

    // MARK: JSON

    public func json() -> JSON {
        var fields: [(String, JSON)] = [
            ("crons", .array(crons.map(cronJSON))),
            ("dataSources", .array(dataSources.map { ds in
                .object([
                    ("name", .string(ds.name)), ("volume", optional(ds.volume)), ("ready", .bool(ds.ready)),
                    ("path", optional(ds.path)), ("sourceFormat", optional(ds.sourceFormat)),
                    ("cron", .string(ds.cron)), ("updated", optional(ds.updated?.description)),
                    ("reference", optional(ds.reference)),
                ])
            })),
            ("volumes", .array(volumes.map { v in
                .object([
                    ("name", .string(v.name)), ("cron", .string(v.cron)), ("digest", .string(v.digest)),
                    ("lastUse", .string(v.lastUse.description)), ("dataSource", .string(v.dataSource)),
                    ("source", .string(v.source)), ("created", .string(v.created.description)), ("path", .string(v.path)),
                    ("size", v.size.map { .number(Double($0)) } ?? .null),
                    ("storageClass", .string(v.className)), ("capacity", v.capacity.map { .number(Double($0)) } ?? .null),
                    ("snapshotPath", optional(v.snapshotPath)),
                    ("referenceVolume", optional(v.referenceVolume)),
                    ("ownBytes", v.ownBytes.map { .number(Double($0)) } ?? .null),
                    ("sharedBytes", v.sharedBytes.map { .number(Double($0)) } ?? .null),
                ])
            })),
        ]
        if !templates.isEmpty { fields.append(("dataImportCronTemplates", .array(templates.map(templateJSON)))) }
        if let dataImportSchedule { fields.append(("dataImportSchedule", .string(dataImportSchedule))) }
        return .object(fields)
    }

    /// One entry of HCO's `status.dataImportCronTemplates`: the name, HCO's status fields, and the crons made from it.
    private func templateJSON(_ template: TemplateStatus) -> JSON {
        var status: [(String, JSON)] = [
            ("commonTemplate", .bool(template.commonTemplate)), ("modified", .bool(template.modified)),
        ]
        if let original = template.originalSupportedArchitectures {
            status.append(("originalSupportedArchitectures", .string(original)))
        }
        if !template.deployed {
            status.append(("conditions", .array([.object([
                ("type", .string(TemplateStatus.deployedCondition)), ("status", .string("False")),
                ("reason", .string(TemplateStatus.unsupportedArchitecturesReason)),
                ("message", .string(TemplateStatus.unsupportedArchitecturesMessage)),
            ])])))
        }
        return .object([
            ("name", .string(template.name)),
            ("architectures", optional(template.supportedArchitectures)),
            ("crons", .array(template.crons.map(JSON.string))),
            ("status", .object(status)),
        ])
    }

    private func cronJSON(_ row: CronRow) -> JSON {
        let s = row.status
        return .object([
            ("name", .string(row.name)),
            ("configured", .bool(row.configured)),
            ("managedDataSource", optional(row.cron?.managedDataSource ?? s?.managedDataSource)),
            ("schedule", optional(row.cron.map { $0.schedule?.expression ?? "" })),
            ("source", optional(row.cron?.source.url)),
            ("commonTemplate", .bool(row.cron?.commonTemplate ?? s?.commonTemplate ?? false)),
            ("modified", .bool(row.cron?.modified ?? false)),
            ("lastImportedVolume", optional(s?.lastImportedVolume)),
            ("lastImportedDigest", optional(s?.lastImportedDigest)),
            ("desiredDigest", optional(s?.sourceDesiredDigest)),
            ("desiredChecksum", optional(s?.sourceChecksum)),
            ("lastExecutionTimestamp", optional(s?.lastExecutionTimestamp?.description)),
            ("lastImportTimestamp", optional(s?.lastImportTimestamp?.description)),
            ("nextPoll", optional(row.nextPoll?.description)),
            ("currentImports", .array((s?.currentImports ?? []).map {
                .object([("digest", .string($0.digest)), ("volume", .string($0.volume))])
            })),
            ("conditions", .array((s?.conditions ?? []).map { c in
                .object([
                    ("type", .string(c.type)), ("status", .string(c.status)), ("reason", .string(c.reason)),
                    ("message", .string(c.message)), ("lastTransitionTime", .string(c.lastTransitionTime.description)),
                ])
            })),
            ("lastError", optional(s?.lastError)),
            ("outdated", .number(Double(s?.outdatedGaugeValue ?? 1))),
        ])
    }

    private func optional(_ text: String?) -> JSON { text.map(JSON.string) ?? .null }

    // MARK: Metric

    /// `kubevirt_cdi_dataimportcron_outdated{namespace,cron_name,pending}` in Prometheus text format, one sample
    /// per configured cron: 1 unless its UpToDate condition is True. `pending` is CDI's "no storage class to import
    /// into": "true" while the cron waits with reason NoStorageClass.
    public func outdatedMetric() -> String {
        var lines = [
            "# HELP kubevirt_cdi_dataimportcron_outdated DataImportCron has an outdated import",
            "# TYPE kubevirt_cdi_dataimportcron_outdated gauge",
        ]
        for sample in outdatedSamples() {
            lines.append("kubevirt_cdi_dataimportcron_outdated{cron_name=\"\(sample.cron)\",namespace=\"\(sample.namespace)\",pending=\"\(sample.pending)\"} \(sample.value)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// One sample of the outdated gauge.
    public struct OutdatedSample: Sendable, Equatable {
        public var namespace: String
        public var cron: String
        public var pending: Bool
        public var value: Int
    }

    /// The gauge's samples, one per configured cron: 1 unless its UpToDate condition is True. `pending` is CDI's
    /// "waiting for a storage class to import into".
    public func outdatedSamples() -> [OutdatedSample] {
        crons.filter(\.configured).map { row in
            OutdatedSample(namespace: row.cron?.namespace ?? "", cron: row.name,
                           pending: row.status?.isWaitingForStorageClass ?? false, value: row.status?.outdatedGaugeValue ?? 1)
        }
    }

    // MARK: Table

    public func table() -> String {
        var out = TextTable(["CRON", "DATASOURCE", "UP-TO-DATE", "REASON", "LAST IMPORT", "DESIRED DIGEST", "NEXT POLL"])
        for row in crons {
            let upToDate = row.status?.condition(CronConditionType.upToDate)
            out.add([
                row.configured ? row.name : "\(row.name) (deleted)",
                row.cron?.managedDataSource ?? row.status?.managedDataSource ?? "",
                upToDate?.status ?? "Unknown",
                upToDate?.reason ?? "",
                row.status?.lastImportedVolume ?? "",
                row.status?.sourceDesiredDigest.map(Self.shortDigest) ?? "",
                row.nextPoll?.description ?? (row.configured ? "never" : ""),
            ])
        }
        var text = out.render()
        let messages = crons.compactMap { row -> String? in
            guard let c = row.status?.condition(CronConditionType.upToDate), !c.isTrue else { return nil }
            return "  \(row.name): \(c.message)"
        }
        if !messages.isEmpty { text += "\n" + messages.joined(separator: "\n") + "\n" }

        var sources = TextTable(["DATASOURCE", "CRON", "READY", "VOLUME"])
        for ds in dataSources {
            sources.add([ds.name, ds.reference.map { "→ \($0)" } ?? ds.cron, ds.ready ? "True" : "False", ds.volume ?? ""])
        }
        // OWN / SHARED: a delta volume's data stored by itself and shared with its reference volume (issue 21).
        var volumeTable = TextTable(["VOLUME", "CRON", "DIGEST", "LAST USE", "SIZE", "OWN", "SHARED"])
        for v in volumes {
            volumeTable.add([v.name, v.cron, Self.shortDigest(v.digest), v.lastUse.description, v.size.map(Quantity.describe) ?? "",
                             v.ownBytes.map(Quantity.describe) ?? "", v.sharedBytes.map(Quantity.describe) ?? ""])
        }
        text += "\n" + sources.render() + "\n" + volumeTable.render()
        if !templates.isEmpty { text += "\n" + templateTable() }
        return text
    }

    /// HCO's templates: which are common, which the user modified, the architectures, and what was made of them.
    private func templateTable() -> String {
        var table = TextTable(["TEMPLATE", "COMMON", "MODIFIED", "ARCHITECTURES", "DEPLOYED", "CRONS"])
        for t in templates {
            let architectures = t.originalSupportedArchitectures.map { "\($0) → \(t.supportedArchitectures ?? "")" } ?? ""
            table.add([t.name, t.commonTemplate ? "True" : "False", t.modified ? "True" : "False", architectures,
                       t.deployed ? "True" : "False (\(TemplateStatus.unsupportedArchitecturesReason))",
                       t.crons.joined(separator: ",")])
        }
        var text = table.render()
        if let dataImportSchedule { text += "common templates' schedule: \(dataImportSchedule)\n" }
        return text
    }

    static func shortDigest(_ digest: String) -> String {
        digest.count > 19 ? String(digest.prefix(19)) + "…" : digest
    }
}

/// Left-aligned columns separated by two spaces, as kubectl prints them.
struct TextTable {
    private let header: [String]
    private var rows: [[String]] = []

    init(_ header: [String]) { self.header = header }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
