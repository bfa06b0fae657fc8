import DiskImportCore

/// Where a compressed cluster's bytes lie in the image file.
public struct Qcow2CompressedCluster: Sendable, Equatable {
    /// Byte offset of the compressed data (not aligned).
    public var hostOffset: UInt64
    /// Bytes to read: the descriptor's sector count times 512, minus the offset into the first sector.
    public var length: Int
}

/// What one cluster of a qcow2 image holds, decoded from its L2 entry (and subcluster bitmap).
enum Qcow2Cluster: Equatable {
    /// Reads from the backing file, or as zeros without one.
    case unallocated
    /// Reads as zeros; the backing file is not consulted.
    case zero
    /// The whole cluster lies at `host` (cluster-aligned).
    case data(host: UInt64)
    case compressed(Qcow2CompressedCluster)
    /// Extended L2 with subclusters that differ: bit n of `allocated` means subcluster n is at
    /// `host + n * subclusterSize`, bit n of `zero` means it reads as zeros, neither means unallocated.
    case subclusters(host: UInt64, allocated: UInt32, zero: UInt32)
}

/// Decodes L2 entries of one image (qemu's qcow2_get_cluster_type / qcow2_get_subcluster_type), including the
/// checks qemu makes when it reads them.
struct Qcow2EntryDecoder {
    static let offsetMask: UInt64 = 0x00ff_ffff_ffff_fe00
    static let compressedFlag: UInt64 = 1 << 62
    static let zeroFlag: UInt64 = 1

    let clusterBits: UInt32
    let version: UInt32
    let extendedL2: Bool
    /// Compressed descriptors: offset in bits 0..<shift, (sectors - 1) in the `sectorMask` bits above it.
    let compressedShift: UInt64
    let compressedOffsetMask: UInt64
    let compressedSectorMask: UInt64
    /// The image's name, for errors.
    let name: String

    init(header: Qcow2Header, name: String) {
        self.name = name
        clusterBits = header.clusterBits
        version = header.version
        extendedL2 = header.hasExtendedL2
        compressedShift = 62 - UInt64(header.clusterBits - 8)
        compressedOffsetMask = (1 << compressedShift) - 1
        compressedSectorMask = (1 << UInt64(header.clusterBits - 8)) - 1
    }

    /// Decodes `entry` (host byte order) and, with extended L2, its `bitmap`. `where` describes the entry for errors.
    @inline(__always)
    func decode(_ entry: UInt64, bitmap: UInt64, where location: @autoclosure () -> String) throws -> Qcow2Cluster {
        if entry & Self.compressedFlag != 0 {
            let host = entry & compressedOffsetMask
            let sectors = (entry >> compressedShift) & compressedSectorMask + 1
            return .compressed(Qcow2CompressedCluster(hostOffset: host, length: Int(sectors * 512 - (host & 511))))
        }
        let host = entry & Self.offsetMask
        let clusterMask = (UInt64(1) << UInt64(clusterBits)) - 1
        if extendedL2 {
            let allocated = UInt32(truncatingIfNeeded: bitmap)
            let zero = UInt32(truncatingIfNeeded: bitmap >> 32)
            if host == 0 {
                if allocated != 0 {
                    throw DiskImportError.corrupt("\(name): qcow2: \(location()): subclusters marked allocated in an unallocated cluster (invalid subcluster bitmap 0x\(String(bitmap, radix: 16)))")
                }
                return zero == 0 ? .unallocated : zero == .max ? .zero : .subclusters(host: 0, allocated: 0, zero: zero)
            }
            if allocated & zero != 0 {
                throw DiskImportError.corrupt("\(name): qcow2: \(location()): subclusters marked both allocated and zero (invalid subcluster bitmap 0x\(String(bitmap, radix: 16)))")
            }
            if host & clusterMask != 0 { throw unaligned(host, location()) }
            if zero == .max { return .zero }
            if allocated == .max { return .data(host: host) }
            if allocated == 0 && zero == 0 { return .unallocated }
            return .subclusters(host: host, allocated: allocated, zero: zero)
        }
        if entry & Self.zeroFlag != 0 {
            if version < 3 {
                throw DiskImportError.corrupt("\(name): qcow2: \(location()): zero cluster flag in a version 2 image")
            }
            if host & clusterMask != 0 { throw unaligned(host, location()) }
            return .zero
        }
        if host == 0 { return .unallocated }
        if host & clusterMask != 0 { throw unaligned(host, location()) }
        return .data(host: host)
    }

    private func unaligned(_ host: UInt64, _ location: String) -> DiskImportError {
        .corrupt("\(name): qcow2: \(location): cluster offset 0x\(String(host, radix: 16)) is not aligned to the cluster size")
    }
}
