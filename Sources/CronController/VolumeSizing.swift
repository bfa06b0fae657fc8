import DiskImportCore
import Target

/// How big a cron's volume is: the storage request, the filesystem overhead of its class, and the capacity a
/// volume for that request gets, by CDI's space rules (DESIGN.md section 5; Target's `SpaceRules`, CDI's float64
/// arithmetic).
///
/// This is the one place the controller applies those rules. With `storage:` (CDI's storage API) the volume's
/// capacity is `required(request, overhead)`, as CDI's `InflateSizeWithOverhead` inflates the claim, and the
/// importer then makes the disk `min(usable(min(free, capacity), overhead), capacity)`, which for that capacity is
/// the request rounded up to 1 MiB. With `pvc:` the request is the capacity itself, so the disk is
/// `usable(request, overhead)`. Either way the import runs under CDI's rules with the class's overhead.
public struct VolumeSizing: Sendable, Equatable {
    /// `resources.requests.storage`; nil means the image's virtual size.
    public var requestedSize: UInt64?
    public var filesystemOverhead: FilesystemOverhead
    /// What a filesystem volume for the request is given: `required(requestedSize, overhead)` for `storage:`,
    /// the request for `pvc:`.
    public var capacity: UInt64?

    public init(requestedSize: UInt64?, filesystemOverhead: FilesystemOverhead, inflatedByOverhead: Bool = true) throws {
        self.requestedSize = requestedSize
        self.filesystemOverhead = filesystemOverhead
        capacity = try requestedSize.map { size in
            guard inflatedByOverhead else { return size }
            guard let bytes = SpaceRules.required(size: size, overhead: filesystemOverhead) else {
                throw DiskImportError.usage("storage request \(size) bytes with overhead \(filesystemOverhead) is too large")
            }
            return bytes
        }
    }
}
