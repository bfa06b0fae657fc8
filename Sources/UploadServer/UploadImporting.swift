import DiskImportCore
import Fetch

/// What an import of an upload did, for the termination message.
struct UploadImportResult: Sendable {
    var preallocationApplied: Bool
}

/// The import pipeline behind the server: reads an upload's body (front to back, as it arrives) into the volume.
/// Called on the import thread; a throw leaves nothing in the volume that looks complete.
protocol UploadImporting: Sendable {
    /// A disk image (raw or qcow2, maybe compressed) written as the raw disk at the destination.
    func importDisk(from body: BodyPipe, checksum: Checksum?, progress: TransferProgress) throws -> UploadImportResult
    /// A tar extracted into the data volume (CDI's archive content type).
    func extractArchive(from body: BodyPipe, checksum: Checksum?, progress: TransferProgress) throws -> UploadImportResult
}
