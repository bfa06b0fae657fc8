import DiskImportCore
import Logging

/// IMPORTER_CONTENTTYPE=archive: a tar (plain or compressed) extracted into the data directory.
struct ArchiveImport {
    let environment: ImporterEnvironment
    let endpoint: String
    let directory: String
    let progress: TransferProgress
    let logger: Logger

    func run() throws {
        throw DiskImportError.unsupported("content type archive is not supported yet: the tar extractor has not landed")
    }
}
