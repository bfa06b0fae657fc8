import DiskImportCore

extension DataImportCronController {
    /// Brings each DataSource reference in line with the DataSource it points at (CDI resolves a DataSource whose
    /// source is another DataSource to that one's volume), and removes references the configuration no longer has
    /// unless a cron now manages that name.
    func updateReferences(_ references: [DataSourceReference], now: UTCInstant) throws {
        for reference in references {
            let target = try store.dataSource(reference.target)
            var record = try store.dataSource(reference.name) ?? DataSourceRecord(name: reference.name, cron: "")
            let before = record
            record.cron = ""
            record.reference = reference.target
            record.volume = target?.volume
            record.ready = target?.ready ?? false
            record.path = target?.path
            record.sourceFormat = target?.sourceFormat
            if record != before {
                record.updated = now
                try store.save(record)
            }
        }
        let wanted = Set(references.map(\.name))
        for record in try store.dataSources() where record.reference != nil && record.cron.isEmpty && !wanted.contains(record.name) {
            try store.removeDataSource(record.name)
        }
    }
}
