import DiskImportCore
import Fetch
import Importer
import Logging
import Target

/// The real `SourcePoller` (registry manifest HEAD, HTTP conditional HEAD) and `VolumeImporter` (the import
/// pipeline) that `cron tick` and `cron run` use: the one place they are wired in.
public enum SourceBackends {
    public static func make() -> (SourcePoller, VolumeImporter) {
        (SourcePollers(), ConverterVolumeImporter())
    }

    /// HTTP options for one cron's source: the Secret's `accessKeyId` / `secretKey` as the user and password
    /// (registry login, or HTTP Basic), and the ConfigMap's certificates trusted in addition to the system's, as
    /// CDI's importer does with IMPORTER_ACCESS_KEY_ID, IMPORTER_SECRET_KEY and IMPORTER_CERT_DIR.
    static func httpOptions(_ access: SourceAccess) -> HTTPOptions {
        var options = HTTPOptions()
        options.caFiles = access.certificateFiles
        options.credentials = access.credentials.map { Credentials(user: $0.accessKeyId, password: $0.secretKey) }
        return options
    }
}

/// Polls each kind of source its own way; registry clients are kept between polls.
struct SourcePollers: SourcePoller {
    let registryClients = RegistryClientCache()

    func poll(_ source: CronSource, previous: String?, access: SourceAccess) throws -> SourceVersion {
        switch source {
        case .registry(let registry): try RegistryDigestPoller(clients: registryClients).poll(registry, access: access)
        case .http(let http): try HTTPFilePoller().poll(http, previous: previous, access: access)
        }
    }
}

/// Polls a registry with `RegistryClient.resolveDigest`: `HEAD /v2/NAME/manifests/TAG` and its
/// `Docker-Content-Digest` (the index's digest for a multi-arch image, so a change of any platform is a new
/// version, as in CDI). No manifest body and no blob is downloaded when the registry sends the header.
struct RegistryDigestPoller {
    let clients: RegistryClientCache

    func poll(_ source: RegistrySource, access: SourceAccess) throws -> SourceVersion {
        let reference = try RegistryReference(parsing: source.url)
        let options = SourceBackends.httpOptions(access)
        let client = try clients.client(for: reference.registry, options: options) {
            try RegistryClient(for: reference, options: options)
        }
        return SourceVersion(digest: try client.resolveDigest(reference).description)
    }
}

/// Polls an HTTP file with a conditional HEAD against the version seen last (`If-None-Match` on its ETag, else
/// `If-Modified-Since` on its date): a 304, or a 200 with the same identity, is the same version, and neither
/// moves a body byte. With `checksumsUrl`, the checksums file is fetched too and the image's line read from it.
struct HTTPFilePoller {
    /// Checksums files list a directory's images; a few MiB is far more than any mirror's.
    static let checksumsLimit = 4 << 20

    func poll(_ source: HTTPSource, previous: String?, access: SourceAccess) throws -> SourceVersion {
        let options = SourceBackends.httpOptions(access)
        let client = try HTTPClient(options: options, logger: Log.logger("cron-http"))
        let known = previous.flatMap(HTTPSourceIdentity.init(stored:))
        let identity: HTTPSourceIdentity
        switch try client.conditionalHead(source.url, ifNoneMatch: known?.etag, ifModifiedSince: known?.lastModified) {
        case .notModified:
            guard let known else {
                throw DiskImportError.corrupt("\(DisplayURL.redacted(source.url)) answered 304 Not Modified to an unconditional HEAD")
            }
            identity = known
        case .current(let validators):
            identity = try HTTPSourceIdentity(validators, url: source.url)
        }
        var checksum: Checksum?
        if let checksumsURL = source.resolvedChecksumsURL {
            // The Secret's credentials go only to the image's own server, not to a checksums file elsewhere.
            var checksumOptions = options
            if Self.origin(of: checksumsURL) != Self.origin(of: source.url) { checksumOptions.credentials = nil }
            let checksumClient = checksumOptions.credentials == nil && options.credentials != nil
                ? try HTTPClient(options: checksumOptions, logger: Log.logger("cron-http")) : client
            let shown = DisplayURL.redacted(checksumsURL)
            let body: [UInt8]
            do {
                body = try checksumClient.getSmallFile(checksumsURL, limit: Self.checksumsLimit)
            } catch let error as DiskImportError {
                throw DiskImportError(error.kind, "checksums file: \(error.message)")
            }
            checksum = try ChecksumsFile.checksum(for: source.fileName, in: String(decoding: body, as: UTF8.self), source: shown)
        }
        return SourceVersion(digest: identity.description, checksum: checksum?.description)
    }

    /// `scheme://host[:port]`, lowercased: where credentials may go.
    static func origin(of url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url.lowercased() }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let host = authority.split(separator: "@").last.map(String.init) ?? String(authority)
        return (url[..<schemeEnd.upperBound] + host).lowercased()
    }
}

/// Imports with the same `Converter` as `diskimport convert`, in this process: a registry image from
/// `url@sha256:…`, an HTTP file from its URL with the version pinned by `If-Match` / `If-Unmodified-Since` and
/// its checksum verified.
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
        convert.references = request.references
        convert.network = SourceBackends.httpOptions(request.access)
        convert.network.headers += try request.pin.map(HTTPHeader.init(parsing:))
        convert.checksum = try request.checksum.map(Checksum.init(parsing:))
        convert.platform = try request.source.registry?.architecture.map { try RegistryPlatform(parsingArchitecture: $0) }
        do {
            let result = try Converter(request: convert, logger: Log.logger("cron-import")).run()
            return VolumeImportResult(size: result.targetLength, scratchBytes: result.scratchBytes,
                                      writtenBytes: result.bytesWritten, sharedBytes: result.bytesSharedWithReference)
        } catch let error as DiskImportError where !request.pin.isEmpty && error.message.hasPrefix("HTTP status 412 ") {
            // The pin held: the file changed between the poll and the import.
            throw DiskImportError(.network, "\(DisplayURL.redacted(request.reference)) changed since it was polled "
                + "(412 Precondition Failed); the next poll sees the new version")
        }
    }
}
