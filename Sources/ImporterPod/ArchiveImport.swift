import Codecs
import DiskImportCore
import Fetch
import Importer
import Logging
import SystemPackage
import Target

#if canImport(Glibc)
import Glibc
#endif

/// IMPORTER_CONTENTTYPE=archive: a tar (plain, gzip, xz or zstd, sniffed by magic) from the endpoint, extracted into
/// the data directory by `SafeArchiveExtractor` (no absolute paths, no `..`, no links leaving the directory, no
/// device nodes, bounded size).
///
/// The archive is extracted into a staging directory inside the volume and moved into place entry by entry (rename)
/// only once it is complete and on stable storage, so a failed import (a broken download, a refused entry, a
/// checksum mismatch) leaves nothing of itself in the volume.
public struct ArchiveImport {
    /// The endpoint and how to reach it (network options, checksum), as for a disk image.
    let request: ConvertRequest
    let directory: String
    let progress: TransferProgress
    let logger: Logger
    /// The archive's source when the caller opened it (an upload's request body); else the endpoint is opened.
    let source: (any OpenedSource)?

    public init(request: ConvertRequest, directory: String, progress: TransferProgress, logger: Logger,
                source: (any OpenedSource)? = nil) {
        self.request = request
        self.directory = directory
        self.progress = progress
        self.logger = logger
        self.source = source
    }

    public func run() throws {
        let phases = PhaseRunner(logger: logger)
        let root = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if root < 0 { throw DiskImportError.io("open data directory", directory, Errno(rawValue: errno)) }
        defer { close(root) }
        let staging = DirectoryTree.name(".diskimport-archive-\(getpid())")
        let stagingPath = directory + "/" + DirectoryTree.display(staging)
        // A stale staging directory of a dead process with our pid is ours to replace.
        try DirectoryTree.remove(staging, in: root, displayPath: stagingPath)
        if mkdirat(root, staging, 0o700) != 0 { throw DiskImportError.io("create", stagingPath, Errno(rawValue: errno)) }
        do {
            let summary = try phases.run(.transfer) { try extract(into: stagingPath) }
            logger.info("archive: \(summary.entries) entries, \(summary.dataBytes) bytes of file data")
            try phases.run(.complete) {
                try DirectoryTree.withDirectory(staging, in: root, displayPath: stagingPath) { fd in
                    try DirectoryTree.syncAll(fd, displayPath: stagingPath)
                    try moveEntries(from: fd, to: root)
                }
                if unlinkat(root, staging, AT_REMOVEDIR) != 0 {
                    throw DiskImportError.io("remove", stagingPath, Errno(rawValue: errno))
                }
                if fsync(root) != 0 { throw DiskImportError.io("fsync", directory, Errno(rawValue: errno)) }
            }
        } catch {
            try? DirectoryTree.remove(staging, in: root, displayPath: stagingPath)
            throw error
        }
    }

    /// Downloads and extracts; the data may use at most `min(free space, IMPORTER_IMAGE_SIZE)`.
    private func extract(into stagingPath: String) throws -> SafeArchiveExtractor.Summary {
        let free = try FilesystemInfo.of(directory).availableBytes
        let limit = min(free, request.requestedSize ?? free)
        var stream = try openSource().stream
        var verifying: ChecksumStream?
        if let checksum = request.checksum {
            let checked = try ChecksumStream(stream, expected: checksum)
            verifying = checked
            stream = checked
        }
        let summary = try SafeArchiveExtractor(maximumTotalBytes: limit).extract(CountingStream(stream, progress: progress),
                                                                                 into: stagingPath)
        try verifying?.verify()
        return summary
    }

    /// The source given, or the endpoint's (a registry has no archives).
    private func openSource() throws -> any OpenedSource {
        if let source { return source }
        let location = SourceLocation(request.source)
        if case .registry = location {
            throw DiskImportError.usage("content type archive is not available for registry sources")
        }
        return try SourceOpener.open(location, network: request.network, platform: nil)
    }

    /// renameat(2) of each top-level entry into the data directory. An existing name there is refused rather than
    /// replaced (a volume's `lost+found`, or a previous import's files).
    private func moveEntries(from staging: Int32, to root: Int32) throws {
        for name in try DirectoryTree.entries(of: staging, displayPath: directory) {
            var st = Glibc.stat()
            if fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                throw DiskImportError.usage("archive entry \(DirectoryTree.display(name)) already exists in \(directory)")
            }
            if renameat(staging, name, root, name) != 0 {
                throw DiskImportError.io("move \(DirectoryTree.display(name)) into", directory, Errno(rawValue: errno))
            }
        }
    }
}
