import DiskImportCore
import Foundation

/// The controller's state under STORAGE, one small JSON file per object, each replaced atomically:
///
///     STORAGE/.lock                           held (flock) by the one controller using this directory
///     STORAGE/state/crons/<cron>.json         CronStatusRecord
///     STORAGE/state/datasources/<name>.json   DataSourceRecord
///     STORAGE/state/volumes/<volume>.json     VolumeRecord, written once the import is complete
///     STORAGE/state/hyperconverged.json       HyperConvergedStatusRecord (the common templates' schedule)
///     ROOT/volumes/<volume>/disk.img          the imported disk, ROOT its storage class's root (STORAGE for
///                                             the one class `default` when no --storage-classes are given)
///     ROOT/volumes/<volume>/.importing        present while an import writes the volume
///     ROOT/snapshots/<volume>/disk.img        its reflink snapshot, in a class whose source format is snapshot
///
/// A volume directory with the marker is a half-written import: the next tick removes it.
public final class StateStore: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    var cronsDirectory: String { "\(root)/state/crons" }
    var dataSourcesDirectory: String { "\(root)/state/datasources" }
    var volumeRecordsDirectory: String { "\(root)/state/volumes" }
    public var volumesDirectory: String { "\(root)/volumes" }

    /// `ROOT/volumes/<volume>`; ROOT defaults to STORAGE.
    public func volumeDirectory(_ volume: String, root: String? = nil) -> String { "\(root ?? self.root)/volumes/\(volume)" }
    public func diskPath(_ volume: String, root: String? = nil) -> String { "\(volumeDirectory(volume, root: root))/disk.img" }
    public func importMarkerPath(_ volume: String, root: String? = nil) -> String { "\(volumeDirectory(volume, root: root))/.importing" }
    public func snapshotPath(_ volume: String, root: String) -> String { "\(root)/snapshots/\(volume)/disk.img" }

    /// Creates the directory layout.
    public func prepare() throws {
        for dir in [cronsDirectory, dataSourcesDirectory, volumeRecordsDirectory, volumesDirectory] {
            try FileSystem.makeDirectories(dir)
        }
    }

    // MARK: Records

    public func crons() throws -> [CronStatusRecord] { try all(in: cronsDirectory) }
    public func cron(_ name: String) throws -> CronStatusRecord? { try one("\(cronsDirectory)/\(name).json") }
    public func save(_ record: CronStatusRecord) throws { try write(record, to: "\(cronsDirectory)/\(record.name).json") }
    public func removeCron(_ name: String) throws { try FileSystem.removeTree("\(cronsDirectory)/\(name).json") }

    public func dataSources() throws -> [DataSourceRecord] { try all(in: dataSourcesDirectory) }
    public func dataSource(_ name: String) throws -> DataSourceRecord? { try one("\(dataSourcesDirectory)/\(name).json") }
    public func save(_ record: DataSourceRecord) throws { try write(record, to: "\(dataSourcesDirectory)/\(record.name).json") }
    public func removeDataSource(_ name: String) throws { try FileSystem.removeTree("\(dataSourcesDirectory)/\(name).json") }

    /// `STORAGE/state/hyperconverged.json`.
    var hyperConvergedPath: String { "\(root)/state/hyperconverged.json" }
    public func hyperConverged() throws -> HyperConvergedStatusRecord? { try one(hyperConvergedPath) }
    public func save(_ record: HyperConvergedStatusRecord) throws { try write(record, to: hyperConvergedPath) }

    public func volumes() throws -> [VolumeRecord] { try all(in: volumeRecordsDirectory) }
    public func volume(_ name: String) throws -> VolumeRecord? { try one("\(volumeRecordsDirectory)/\(name).json") }
    public func save(_ record: VolumeRecord) throws { try write(record, to: "\(volumeRecordsDirectory)/\(record.name).json") }

    /// Deletes a volume: its record first (so it is never listed without its data), then its data and snapshot.
    public func removeVolume(_ name: String) throws {
        let record = try volume(name)
        try FileSystem.removeTree("\(volumeRecordsDirectory)/\(name).json")
        try FileSystem.syncDirectory(volumeRecordsDirectory)
        try FileSystem.removeTree(record?.directory ?? volumeDirectory(name))
        if let snapshot = record?.snapshotPath { try FileSystem.removeTree(FileSystem.split(snapshot).directory) }
    }

    /// Removes the temporaries of records a killed controller was writing (`FileSystem.writeAtomically`'s
    /// `.NAME.tmp-PID-N`): called under the storage lock, so no other controller is writing them; ours are spared.
    public func removeStaleRecordTemporaries() {
        for directory in [cronsDirectory, dataSourcesDirectory, volumeRecordsDirectory, "\(root)/state"] {
            for name in (try? FileSystem.list(directory)) ?? [] where FileSystem.isStaleTemporary(name) {
                unlink("\(directory)/\(name)")
            }
        }
    }

    /// Volume directories under each root whose import never finished (marker present), for removal.
    public func halfWrittenVolumes(roots: [String]) throws -> [(name: String, directory: String)] {
        var found: [(name: String, directory: String)] = []
        for root in Set(roots + [self.root]).sorted() where FileSystem.isDirectory("\(root)/volumes") {
            for name in try FileSystem.list("\(root)/volumes") where FileSystem.exists(importMarkerPath(name, root: root)) {
                found.append((name, volumeDirectory(name, root: root)))
            }
        }
        return found
    }

    // MARK: Import markers

    /// Creates the volume directory with its marker, durably, before any byte of the import is written.
    public func beginImport(_ volume: String, root: String? = nil) throws {
        let directory = volumeDirectory(volume, root: root)
        try FileSystem.removeTree(directory)
        try FileSystem.makeDirectories(directory)
        try FileSystem.writeAtomically(importMarkerPath(volume, root: root), Array("import in progress\n".utf8))
        try FileSystem.syncDirectory(FileSystem.split(directory).directory)
    }

    /// Removes the marker once the volume's record is written: from here on the volume is complete.
    public func finishImport(_ volume: String, root: String? = nil) throws {
        try FileSystem.removeTree(importMarkerPath(volume, root: root))
        try FileSystem.syncDirectory(volumeDirectory(volume, root: root))
    }

    // MARK: JSON files

    private func write<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw DiskImportError(.io, "encode \(path): \(error)")
        }
        try FileSystem.writeAtomically(path, Array(data) + [UInt8(ascii: "\n")])
    }

    private func one<T: Decodable>(_ path: String) throws -> T? {
        guard FileSystem.exists(path) else { return nil }
        let text = try FileSystem.readText(path)
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch let error as DiskImportError {
            throw DiskImportError.corrupt("state file \(path) is damaged: \(error.message)")
        } catch {
            throw DiskImportError.corrupt("state file \(path) is damaged: \(Self.describe(error))")
        }
    }

    private func all<T: Decodable>(in directory: String) throws -> [T] {
        try FileSystem.list(directory).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.compactMap { try one("\(directory)/\($0)") }
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not valid JSON" : "bad value at \(path)"
        default: return "\(error)"
        }
    }
}
