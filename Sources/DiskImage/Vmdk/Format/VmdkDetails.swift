import DiskImportCore

/// What `info` shows of a vmdk: qemu-img info's fields (block/vmdk.c vmdk_get_specific_info, vmdk_get_extent_info,
/// vmdk_co_get_info), with its JSON keys and its human lines.
public struct VmdkDetails: ImageDetails, Equatable {
    public var createType: String
    public var cid: UInt32
    public var parentCID: UInt32
    /// The image's cluster size: the grain size, when every extent has the same kind and the first is sparse.
    public var clusterSize: UInt64?
    public var parentHint: String?
    /// The parent's path as qemu would open it (beside the image).
    public var fullParentPath: String?
    var extents: [VmdkExtentInfo]

    init(createType: String, cid: UInt32, parentCID: UInt32, parentHint: String?, imagePath: String, extents: [VmdkExtentInfo]) {
        self.createType = createType
        self.cid = cid
        self.parentCID = parentCID
        self.parentHint = parentHint
        self.extents = extents
        if let parentHint {
            let directory = VmdkFileNames.directory(of: imagePath)
            fullParentPath = parentHint.hasPrefix("/") || directory.isEmpty ? parentHint : directory + "/" + parentHint
        }
        // vmdk_co_get_info: no cluster size when the extents differ in kind, or the first is flat.
        if let first = extents.first, first.clusterSize != nil,
           extents.allSatisfy({ $0.compressed == first.compressed && $0.clusterSize == first.clusterSize }) {
            clusterSize = first.clusterSize
        }
    }

    init(image: VmdkImage) {
        self.init(createType: image.createType, cid: image.cid, parentCID: image.parentCID, parentHint: image.parentHint,
                  imagePath: image.path, extents: image.extents.map(\.info))
    }

    public var infoJSONMembers: [(String, JSON)] {
        var members: [(String, JSON)] = []
        if let clusterSize { members.append(("cluster-size", .number(Double(clusterSize)))) }
        if let parentHint {
            members.append(("backing-filename", .string(parentHint)))
            if let fullParentPath { members.append(("full-backing-filename", .string(fullParentPath))) }
            members.append(("backing-filename-format", .string("vmdk")))
        }
        let extentObjects: [JSON] = extents.map { extent in
            var fields: [(String, JSON)] = []
            if extent.compressed { fields.append(("compressed", .bool(true))) }
            fields.append(("virtual-size", .number(Double(extent.virtualSize))))
            fields.append(("filename", .string(extent.filename)))
            if let size = extent.clusterSize { fields.append(("cluster-size", .number(Double(size)))) }
            fields.append(("format", .string(extent.format)))
            return .object(fields)
        }
        let data: [(String, JSON)] = [
            ("cid", .number(Double(cid))), ("parent-cid", .number(Double(parentCID))),
            ("create-type", .string(createType)), ("extents", .array(extentObjects)),
        ]
        members.append(("format-specific", .object([("type", .string("vmdk")), ("data", .object(data))])))
        return members
    }

    public var infoHumanLines: [String] {
        var lines: [String] = []
        if let clusterSize { lines.append("cluster_size: \(clusterSize)") }
        if let parentHint {
            let actual = fullParentPath.map { $0 != parentHint ? " (actual path: \($0))" : "" } ?? ""
            lines.append("backing file: \(parentHint)\(actual)")
            lines.append("backing file format: vmdk")
        }
        lines += ["Format specific information:", "    cid: \(cid)", "    parent cid: \(parentCID)", "    create type: \(createType)", "    extents:"]
        for (index, extent) in extents.enumerated() {
            lines.append("        [\(index)]:")
            if extent.compressed { lines.append("            compressed: true") }
            lines.append("            virtual size: \(extent.virtualSize)")
            lines.append("            filename: \(extent.filename)")
            if let size = extent.clusterSize { lines.append("            cluster size: \(size)") }
            lines.append("            format: \(extent.format)")
        }
        return lines
    }
}
