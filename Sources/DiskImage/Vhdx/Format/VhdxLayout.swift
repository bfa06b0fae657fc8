import DiskImportCore

/// A VHDX file's structures, parsed in qemu's order (vhdx_open, block/vhdx.c): the active header, the log, the
/// region table, the metadata and the BAT. Everything the readers need to place guest bytes; nothing of the data.
struct VhdxLayout: Sendable {
    var header: VhdxHeader
    var regions: VhdxRegionTable
    var metadata: VhdxMetadata
    var table: VhdxBlockTable

    var virtualSize: UInt64 { metadata.virtualSize }

    /// The header section and the regions the BAT may not point into.
    var taken: [(range: Range<UInt64>, what: String)] { Self.taken(header: header, regions: regions) }

    static func taken(header: VhdxHeader, regions: VhdxRegionTable) -> [(range: Range<UInt64>, what: String)] {
        [(header.logRange, "the log"), (regions.bat, "the BAT region"), (regions.metadata, "the metadata region")]
            .filter { !$0.range.isEmpty }
    }

    /// Parses the structures of a file read with random access (a local file, ranged reads, a buffer).
    static func parse(_ view: VhdxFileView) throws -> VhdxLayout {
        try parse(header: view, regionsFound: { _, _ in view })
    }

    /// Header and region table from `headerView`; the log, metadata and BAT from the view `regionsFound` returns (a
    /// stream buffers the structures the header and the table place there).
    static func parse(header headerView: VhdxFileView,
                      regionsFound: (VhdxHeader, VhdxRegionTable) throws -> VhdxFileView) throws -> VhdxLayout {
        let header = try VhdxHeader.read(from: headerView)
        let regions = try VhdxRegionTable.read(from: headerView, log: header.logRange)
        let view = try regionsFound(header, regions)
        try VhdxLog.refuseReplay(header: header, view: view)
        let metadata = try VhdxMetadata.read(from: view, region: regions.metadata)
        if metadata.hasParent {
            throw DiskImportError.unsupported("\(view.name): vhdx: differencing images (a parent locator) are not read yet; convert the merged disk (qemu-img 7.2 refuses them too)")
        }
        let table = try VhdxBlockTable.read(from: view, region: regions.bat, metadata: metadata,
                                            taken: taken(header: header, regions: regions))
        return VhdxLayout(header: header, regions: regions, metadata: metadata, table: table)
    }

    /// The structures of a whole VHDX file in memory: the entry point a fuzzer drives.
    static func parse(bytes: [UInt8], name: String = "buffer") throws -> VhdxLayout {
        try parse(VhdxBufferedView(name: name, segments: [(0, bytes)], length: UInt64(bytes.count)))
    }
}
