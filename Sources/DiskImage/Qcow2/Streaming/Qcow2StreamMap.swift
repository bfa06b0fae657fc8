import DiskImportCore

/// What the streaming qcow2 reader knows about clusters the stream has not reached yet: which ones are L2 tables
/// (and for which L1 entries), which hold guest data (and where it goes), where compressed clusters start.
///
/// Memory is bounded: an image that maps more clusters ahead of the stream than `limit` is refused.
struct Qcow2StreamMap {
    /// A plain cluster's destination: its guest offset and, with extended L2, the subclusters that hold data
    /// (all ones otherwise).
    struct PlainTarget {
        var guest: UInt64
        var allocated: UInt32
    }

    /// A compressed cluster and the guest bytes it fills (`length` may be short of a cluster at the end of the disk).
    struct CompressedTarget {
        var cluster: Qcow2CompressedCluster
        var guest: UInt64
        var length: Int

        var end: UInt64 { cluster.hostOffset + UInt64(cluster.length) }
    }

    static let limit = 4 << 20

    /// L2 table offset -> the L1 indices that point at it.
    var l2Tables: [UInt64: [Int]] = [:]
    /// Host cluster offset -> destination; `extraPlain` holds further destinations of clusters mapped twice.
    var plain: [UInt64: PlainTarget] = [:]
    var extraPlain: [UInt64: [PlainTarget]] = [:]
    /// Host cluster index of the first byte -> compressed clusters starting in that cluster.
    var compressed: [UInt64: [CompressedTarget]] = [:]
    /// Refcount blocks named by the refcount table: metadata, nothing to place.
    var refcountBlocks: Set<UInt64> = []
    private(set) var count = 0

    mutating func addL2(at offset: UInt64, l1Index: Int) throws {
        try grow()
        l2Tables[offset, default: []].append(l1Index)
    }

    mutating func addPlain(at host: UInt64, _ target: PlainTarget) throws {
        try grow()
        if plain[host] == nil {
            plain[host] = target
        } else {
            extraPlain[host, default: []].append(target)
        }
    }

    mutating func addCompressed(_ target: CompressedTarget, clusterBits: UInt32) throws {
        try grow()
        compressed[target.cluster.hostOffset >> UInt64(clusterBits), default: []].append(target)
    }

    /// Removes and returns the destination of the plain cluster at `host`; `takeExtraPlain` gives any others.
    mutating func takePlain(at host: UInt64) -> PlainTarget? {
        guard !plain.isEmpty, let first = plain.removeValue(forKey: host) else { return nil }
        count -= 1
        return first
    }

    mutating func takeExtraPlain(at host: UInt64) -> [PlainTarget] {
        guard !extraPlain.isEmpty, let more = extraPlain.removeValue(forKey: host) else { return [] }
        count -= more.count
        return more
    }

    mutating func takeL2(at offset: UInt64) -> [Int] {
        guard !l2Tables.isEmpty else { return [] }
        let indices = l2Tables.removeValue(forKey: offset) ?? []
        count -= indices.count
        return indices
    }

    mutating func takeCompressed(startingInCluster index: UInt64) -> [CompressedTarget] {
        guard !compressed.isEmpty else { return [] }
        let targets = compressed.removeValue(forKey: index) ?? []
        count -= targets.count
        return targets
    }

    /// Whether anything is mapped at the cluster at `host` (cluster index `index`): an L2 table, plain data, the
    /// start of a compressed cluster.
    func mapsAnything(at host: UInt64, clusterIndex index: UInt64) -> Bool {
        (!l2Tables.isEmpty && l2Tables[host] != nil) || (!plain.isEmpty && plain[host] != nil)
            || (!compressed.isEmpty && compressed[index] != nil)
    }

    private mutating func grow() throws {
        count += 1
        if count > Self.limit {
            throw DiskImportError(.limit, "qcow2 stream: more than \(Self.limit) clusters are mapped ahead of the stream; convert the decompressed image instead")
        }
    }
}
