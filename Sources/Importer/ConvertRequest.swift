import DiskImage
import DiskImportCore
import Fetch
import Target

/// What `diskimport convert` (and later the pod mode) asks for.
public struct ConvertRequest: Sendable {
    public var source: String
    public var target: String
    /// Requested size (`--size`, IMPORTER_IMAGE_SIZE): the size a raw file grows to (under CDI's rules, to at most
    /// `usable(min(free, size), overhead)`).
    public var requestedSize: UInt64?
    /// CDI's space rules with this filesystem overhead (FILESYSTEM_OVERHEAD in pod mode, a cron volume's class,
    /// `--filesystem-overhead`); nil, the CLI's default, applies qemu-img's. See `SpacePlan`.
    public var filesystemOverhead: FilesystemOverhead?
    /// `--preallocation`; the pod mode's PREALLOCATION=true maps to `.falloc`.
    public var preallocation: PreallocationMode = .off
    /// Follow backing files of local qcow2 images.
    public var followBacking = true
    /// Where a streaming reader may keep data that arrives before it can be placed (`--scratch`, /scratch).
    public var scratchDirectory: String?
    /// fsync the target before declaring success.
    public var sync = true
    /// Write a blank disk instead of reading `source` (CDI's `none` source): `blankLength` bytes of zeros, 0 for a
    /// file target (whose length the requested size and the space rules then set), a block volume's length when it
    /// is to be preallocated.
    public var blankLength: UInt64?
    /// How to reach http(s) sources: trust, credentials, headers, proxy, retries.
    public var network = HTTPOptions()
    /// The expected digest of the source bytes as downloaded (`--checksum`).
    public var checksum: Checksum?
    /// The platform to pick from a multi-platform registry image (`--arch`); nil picks this machine's.
    public var platform: RegistryPlatform?
    /// How the image's format is decided: by its bytes, or named with `-f FMT` (`FormatChoice`).
    public var format: FormatChoice = .probe
    /// The disk to take from an OVA (`--disk N`, 1-based); nil takes the first. An error for a source that is no OVA.
    public var ovaDisk: Int?
    /// `--reference`: earlier volumes on the target's reflink filesystem whose blocks the target shares where it
    /// would store the same bytes (`ReferenceVolumes`).
    public var references: [String] = []

    public init(source: String, target: String) {
        self.source = source
        self.target = target
    }
}

/// What an import did, for `--json` and the termination message.
public struct ConvertResult: Sendable {
    public var sourceFormat: String
    public var layers: [String]
    public var virtualSize: UInt64
    public var bytesRead: UInt64
    public var bytesWritten: UInt64
    /// The part of `bytesWritten` shared with the source by reflink rather than copied.
    public var bytesCloned: UInt64
    /// The part of `bytesWritten` cloned from the `--reference` volumes, found there by content.
    public var bytesSharedWithReference: UInt64
    /// Guest bytes that read as zeros without being written (holes, BLKZEROOUT).
    public var holeBytes: UInt64
    public var scratchBytes: UInt64
    public var seconds: Double
    public var targetKind: TargetKind
    /// The target's final length: the guest size, grown by the requested size for files (`SpacePlan.finalLength`).
    public var targetLength: UInt64
    public var preallocation: PreallocationOutcome
    /// CDI's `preallocationApplied`.
    public var preallocationApplied: Bool { preallocation.applied }
}
