import DiskImportCore

/// What `info` says of an image whose only field beyond the size is qemu's cluster size (vdi, vhd):
/// `"cluster-size"` in JSON, `cluster_size:` in the human form (block/qapi.c bdrv_image_info_dump).
public struct ClusterSizeDetails: ImageDetails {
    public var clusterSize: UInt64?

    public init(clusterSize: UInt64?) { self.clusterSize = clusterSize }

    public var infoJSONMembers: [(String, JSON)] {
        clusterSize.map { [("cluster-size", .number(Double($0)))] } ?? []
    }

    public var infoHumanLines: [String] {
        clusterSize.map { ["cluster_size: \($0)"] } ?? []
    }
}
