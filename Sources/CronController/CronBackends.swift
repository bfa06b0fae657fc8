import DiskImportCore

/// Where the controller learns which digest a cron's source points at now.
///
/// The real one does a registry manifest HEAD on the source URL and returns `Docker-Content-Digest`: for a
/// multi-arch image, the digest of the index, so any change of any platform counts as a new version, as in CDI.
public protocol DigestSource: Sendable {
    /// The source's current digest, `sha256:` and 64 hex digits. Throws a `DiskImportError`: `.auth` when the
    /// registry refuses the credentials, `.network` or `.tls` when it cannot be reached.
    func currentDigest(of source: RegistrySource, access: RegistryAccess) throws -> String
}

/// What one import into a cron volume needs.
public struct VolumeImportRequest: Sendable {
    public var cron: String
    /// The source pinned to the polled digest: `docker://host/repository@sha256:…`.
    public var reference: String
    public var source: RegistrySource
    public var access: RegistryAccess
    /// `STORAGE/volumes/<volume>/disk.img`; its directory exists and carries the import marker.
    public var targetPath: String
    public var sizing: VolumeSizing
    public var preallocation: Bool
    /// Where the import may keep data that arrives before it can be placed; nil means the target's directory.
    public var scratchDirectory: String?
}

/// What an import reports back.
public struct VolumeImportResult: Sendable, Equatable {
    /// The size of the disk written.
    public var size: UInt64
    /// Bytes the import wrote to its scratch directory (data that arrived before it could be placed).
    public var scratchBytes: UInt64

    public init(size: UInt64, scratchBytes: UInt64 = 0) {
        self.size = size
        self.scratchBytes = scratchBytes
    }
}

/// Imports one image into one volume: the same pipeline as `diskimport convert`. On failure it throws and may
/// leave partial bytes behind; the controller removes the whole volume directory.
public protocol VolumeImporter: Sendable {
    func importVolume(_ request: VolumeImportRequest) throws -> VolumeImportResult
}
