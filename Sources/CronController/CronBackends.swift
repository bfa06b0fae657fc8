import DiskImportCore

/// What one poll found: the identity of the source's current version, and what its import is checked against.
public struct SourceVersion: Sendable, Equatable {
    /// What the controller stores as the source's digest: for a registry, `Docker-Content-Digest` (`sha256:…`,
    /// the index's for a multi-arch image); for an HTTP file, the server's identity of it (`HTTPSourceIdentity`).
    public var digest: String
    /// The file's expected checksum from the cron's checksums file (`sha256:HEX`), for an HTTP source with one.
    public var checksum: String?

    public init(digest: String, checksum: String? = nil) {
        self.digest = digest
        self.checksum = checksum
    }
}

/// Where the controller learns which version a cron's source holds now.
///
/// For a registry: a manifest HEAD and its `Docker-Content-Digest`, so any change of any platform counts as a new
/// version, as in CDI. For an HTTP file: a conditional HEAD against the version seen last (`previous`), so an
/// unchanged file moves no body byte, and the checksums file's line when the cron names one.
public protocol SourcePoller: Sendable {
    /// Throws a `DiskImportError`: `.auth` when the server refuses the credentials, `.network` or `.tls` when it
    /// cannot be reached, `.corrupt` when it answers without a usable identity.
    func poll(_ source: CronSource, previous: String?, access: SourceAccess) throws -> SourceVersion
}

/// What one import into a cron volume needs.
public struct VolumeImportRequest: Sendable {
    public var cron: String
    /// What to import: a registry source pinned to the polled digest (`docker://host/repository@sha256:…`), or
    /// the HTTP source's URL.
    public var reference: String
    public var source: CronSource
    public var access: SourceAccess
    /// Request headers that make an HTTP import fail (412) rather than read a version other than the one polled:
    /// `If-Match` with a strong ETag, else `If-Unmodified-Since` (CDI pins a registry import to its digest).
    public var pin: [String] = []
    /// The checksum the downloaded bytes must have (`sha256:HEX`), from the checksums file.
    public var checksum: String?
    /// `STORAGE/volumes/<volume>/disk.img`; its directory exists and carries the import marker.
    public var targetPath: String
    public var sizing: VolumeSizing
    public var preallocation: Bool
    /// Where the import may keep data that arrives before it can be placed; nil means the target's directory.
    public var scratchDirectory: String?
    /// Earlier volumes on the same reflink filesystem whose blocks the new one shares (`convert --reference`).
    public var references: [String] = []
}

/// What an import reports back.
public struct VolumeImportResult: Sendable, Equatable {
    /// The size of the disk written.
    public var size: UInt64
    /// Bytes the import wrote to its scratch directory (data that arrived before it could be placed).
    public var scratchBytes: UInt64
    /// Data bytes stored, and the part of them cloned from the references.
    public var writtenBytes: UInt64
    public var sharedBytes: UInt64

    public init(size: UInt64, scratchBytes: UInt64 = 0, writtenBytes: UInt64 = 0, sharedBytes: UInt64 = 0) {
        self.size = size
        self.scratchBytes = scratchBytes
        self.writtenBytes = writtenBytes
        self.sharedBytes = sharedBytes
    }
}

/// Imports one image into one volume: the same pipeline as `diskimport convert`. On failure it throws and may
/// leave partial bytes behind; the controller removes the whole volume directory.
public protocol VolumeImporter: Sendable {
    func importVolume(_ request: VolumeImportRequest) throws -> VolumeImportResult
}
