import Codecs
import DiskImportCore

/// Reads one disk image and puts its guest bytes into a sink.
public protocol DiskImageReader: AnyObject {
    /// The guest size in bytes, when known before conversion (raw streams of unknown length report nil).
    var virtualSize: UInt64? { get }

    /// Writes every guest byte (data, zeros, holes) to `sink` and returns the guest size.
    func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64

    /// Bytes the reader wrote to scratch space during `convert` (0 for readers that never need scratch).
    var scratchBytes: UInt64 { get }

    /// The bound on decoded bytes this reader enforces, for an image whose size is unknown until it is read (raw
    /// under compression), so the importer can tighten it to what the target holds; nil when there is none.
    var decodedSizeLimit: (any DecodedSizeLimit)? { get }

    /// Capability: the guest data `convert` will store, when the image's metadata tells it before any is read
    /// (a local raw file's extents, a qcow2's clusters); nil when only reading tells (streams). Called before
    /// `convert`, on the same thread.
    func allocatedData() throws -> AllocatedData?
}

extension DiskImageReader {
    public var scratchBytes: UInt64 { 0 }
    public var decodedSizeLimit: (any DecodedSizeLimit)? { nil }
    public func allocatedData() throws -> AllocatedData? { nil }
}
