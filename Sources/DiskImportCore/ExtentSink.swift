import SystemPackage

/// Where a disk image reader puts guest bytes: a file or block-device target, or a checksum in tests.
///
/// Readers call these for disjoint guest ranges in any order, possibly from several threads at once;
/// implementations must accept that. A range a reader never mentions reads as zeros in the result:
/// the sink is responsible for making that true (holes in a new file, BLKZEROOUT on a block device).
public protocol ExtentSink: AnyObject, Sendable {
    /// Guest bytes at `offset`. They may contain zeros; the sink decides whether to store or skip them.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws

    /// A guest range known to read as zeros.
    func writeZeros(at offset: UInt64, length: UInt64) throws

    /// Guest bytes that lie in a local file: `length` bytes of `file` at `sourceOffset` go to guest `offset`.
    /// File targets share extents on reflink filesystems (FICLONERANGE) or map the range and store only its non-zero
    /// 4 KiB blocks; block devices write it. Bytes of the range past the file's end read as zeros, as qemu reads them.
    func copy(from file: FileDescriptor, sourceOffset: UInt64, to offset: UInt64, length: UInt64) throws
}
