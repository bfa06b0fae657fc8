import DiskImportCore
import Fetch
import Importer
import Logging
import Target

/// The registry-backed `DigestSource` (manifest HEAD) and `VolumeImporter` (the import pipeline) that `cron tick`
/// and `cron run` use: the one place they are wired in.
public enum RegistryBackends {
    public static func make() -> (DigestSource, VolumeImporter) {
        (RegistryDigestSource(), ConverterVolumeImporter())
    }

    /// HTTP options for one cron's registry: the Secret's `accessKeyId` / `secretKey` as the registry user and
    /// password, and the ConfigMap's certificates trusted in addition to the system's, as CDI's importer does
    /// with IMPORTER_ACCESS_KEY_ID, IMPORTER_SECRET_KEY and IMPORTER_CERT_DIR.
    static func httpOptions(_ access: RegistryAccess) -> HTTPOptions {
        var options = HTTPOptions()
        options.caFiles = access.certificateFiles
        options.credentials = access.credentials.map { Credentials(user: $0.accessKeyId, password: $0.secretKey) }
        return options
    }
}

/// Polls a source with `RegistryClient.resolveDigest`: `HEAD /v2/NAME/manifests/TAG` and its
/// `Docker-Content-Digest` (the index's digest for a multi-arch image, so a change of any platform is a new
/// version, as in CDI). No manifest body and no blob is downloaded when the registry sends the header.
struct RegistryDigestSource: DigestSource {
    func currentDigest(of source: RegistrySource, access: RegistryAccess) throws -> String {
        let reference = try RegistryReference(parsing: source.url)
        let client = try RegistryClient(for: reference, options: RegistryBackends.httpOptions(access))
        return try client.resolveDigest(reference).description
    }
}

/// Imports `url@sha256:…` with the same `Converter` as `diskimport convert`, in this process.
///
/// In-process rather than a child `diskimport import`: the controller already holds the parsed request, the
/// credentials stay in memory instead of passing through a child's environment or files, and errors come back as
/// the `DiskImportError` the conditions quote. Crash safety does not need a child either: the controller writes
/// the volume's import marker before the first byte, so a controller killed mid-import (with its import) leaves a
/// marked directory that the next tick removes.
struct ConverterVolumeImporter: VolumeImporter {
    func importVolume(_ request: VolumeImportRequest) throws -> VolumeImportResult {
        var convert = ConvertRequest(source: request.reference, target: request.targetPath)
        // The volume's capacity: the Converter grows the disk to min(usable(min(free, capacity)), capacity).
        convert.requestedSize = request.sizing.capacity
        convert.filesystemOverhead = request.sizing.filesystemOverhead
        convert.preallocation = request.preallocation ? .falloc : .off
        convert.scratchDirectory = request.scratchDirectory
        convert.network = RegistryBackends.httpOptions(request.access)
        convert.platform = try request.source.architecture.map { try RegistryPlatform(parsingArchitecture: $0) }
        let result = try Converter(request: convert, logger: Log.logger("cron-import")).run()
        return VolumeImportResult(size: result.targetLength, scratchBytes: result.scratchBytes)
    }
}
