import DiskImportCore
import Fetch
import Importer
import ImporterPod
import Logging
import SystemPackage
import Target

#if canImport(Glibc)
import Glibc
#endif

/// The import pipeline the upload server feeds: the `Converter` that `convert` and the importer pod run, with the
/// request body as its source, and the importer pod's archive extraction.
struct VolumeImporter: UploadImporting {
    /// Where the disk goes: a file (CDI's /data/disk.img) or a block device.
    let destination: String
    /// The filesystem volume (an archive is extracted into it).
    let dataDirectory: String
    /// The scratch volume when it is mounted.
    let scratchDirectory: String?
    let requestedSize: UInt64?
    let overhead: FilesystemOverhead
    let preallocation: Bool
    let logger: Logger

    func importDisk(from body: BodyPipe, checksum: Checksum?, progress: TransferProgress) throws -> UploadImportResult {
        var request = ConvertRequest(source: "upload", target: destination)
        apply(to: &request, checksum: checksum)
        // A streamed image never follows a backing file (the streaming qcow2 reader refuses one by name).
        request.followBacking = false
        // Scratch only when the volume is mounted; without it an image that needs scratch fails with CDI's
        // "scratch space required and none found".
        request.scratchDirectory = scratchDirectory
        let source = StreamSource(stream: body, displayName: "the upload")
        return try finishDisk(try Converter(request: request, source: source, progress: progress, logger: logger).run())
    }

    /// CDI's resize phase ends with the disk file at 0660 whatever the umask, for KubeVirt's qemu (the pod's fsGroup).
    private func finishDisk(_ result: ConvertResult) throws -> UploadImportResult {
        if !isBlockDevice, chmod(destination, 0o660) != 0 {
            throw DiskImportError.io("Unable to change permissions of target file", destination, Errno(rawValue: errno))
        }
        logger.info("Wrote data to \(destination)")
        return UploadImportResult(preallocationApplied: result.preallocationApplied)
    }

    /// Whether the destination is a block device (stat(2), following links): a volume's mode is not ours to change.
    private var isBlockDevice: Bool {
        var st = stat()
        return stat(destination, &st) == 0 && (st.st_mode & S_IFMT) == S_IFBLK
    }

    func extractArchive(from body: BodyPipe, checksum: Checksum?, progress: TransferProgress) throws -> UploadImportResult {
        var request = ConvertRequest(source: "upload", target: dataDirectory)
        apply(to: &request, checksum: checksum)
        try ArchiveImport(request: request, directory: dataDirectory, progress: progress, logger: logger,
                          source: StreamSource(stream: body, displayName: "the upload")).run()
        logger.info("Wrote archive data")
        return UploadImportResult(preallocationApplied: false)
    }

    private func apply(to request: inout ConvertRequest, checksum: Checksum?) {
        request.requestedSize = requestedSize
        request.filesystemOverhead = overhead
        // CDI's PREALLOCATION=true is qemu-img's preallocation=falloc.
        request.preallocation = preallocation ? .falloc : .off
        request.checksum = checksum
        request.sync = true
    }
}
