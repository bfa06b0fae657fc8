import CLinux
import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// What a guest range of one image in a backing chain holds.
struct LayerExtent: Equatable {
    var length: UInt64
    var content: LayerContent
}

enum LayerContent: Equatable {
    /// Read the range from the next image down the chain (zeros past the end of the chain).
    case unallocated
    case zero
    /// Bytes of the layer's source file starting at `host` (for the extent's first byte).
    case data(host: UInt64)
    /// Part of a compressed cluster: the extent starts `offsetInCluster` bytes into the decompressed cluster.
    case compressed(Qcow2CompressedCluster, offsetInCluster: UInt64)
}

/// One image of a backing chain (the top image is layer 0), asked for guest ranges one extent at a time.
/// Used from one thread (the planner); the sources it hands out are shared with worker threads.
protocol ChainLayer: AnyObject {
    /// The file that `data` and `compressed` extents point into.
    var source: RandomAccessSource { get }
    /// Guest reads at or past this offset return zeros.
    var guestSize: UInt64 { get }
    /// Decompressed size of a compressed cluster (qcow2 only).
    var clusterSize: Int { get }
    var compressionType: Qcow2CompressionType { get }
    /// The longest extent starting at `offset` (< `limit` <= `guestSize`) that holds one kind of content and
    /// ends at or before `limit`. Compressed extents never span more than one cluster.
    func extent(at offset: UInt64, limit: UInt64) throws -> LayerExtent
}

/// A raw backing file: guest offset = file offset. Holes in a local file are reported as zeros
/// (lseek SEEK_DATA / SEEK_HOLE), as qemu's block status does, so they are never read.
final class RawChainLayer: ChainLayer {
    let source: RandomAccessSource
    let guestSize: UInt64
    var clusterSize: Int { 0 }
    var compressionType: Qcow2CompressionType { .zlib }

    init(source: RandomAccessSource) {
        self.source = source
        guestSize = source.length
    }

    func extent(at offset: UInt64, limit: UInt64) throws -> LayerExtent {
        guard let fd = source.localFile?.rawValue else { return LayerExtent(length: limit - offset, content: .data(host: offset)) }
        let data = clinux_seek_data(fd, Int64(offset))
        if data < 0 {
            // ENXIO: no data at or after offset. Anything else: the filesystem cannot say, so read it.
            if errno == ENXIO { return LayerExtent(length: limit - offset, content: .zero) }
            return LayerExtent(length: limit - offset, content: .data(host: offset))
        }
        if UInt64(data) > offset { return LayerExtent(length: min(UInt64(data), limit) - offset, content: .zero) }
        let hole = clinux_seek_hole(fd, Int64(offset))
        let end = hole > Int64(offset) ? min(UInt64(hole), limit) : limit
        return LayerExtent(length: end - offset, content: .data(host: offset))
    }
}
