import DiskImportCore

/// An opened vmdk image: its extents in guest order and what its descriptor says (create type, CIDs, parent), as
/// qemu's vmdk_open builds it. A sparse file (KDMV) is one extent; a descriptor file names its extents, which are
/// opened beside it (`VmdkFileNames`) when `followExtents`, and refused otherwise.
final class VmdkImage {
    let path: String
    let createType: String
    let cid: UInt32
    let parentCID: UInt32
    let parentHint: String?
    let extents: [VmdkExtent]
    let virtualSize: UInt64
    /// The file the image was opened from (the sparse file, or the descriptor).
    let file: RandomAccessSource

    /// qemu reads the CIDs and the parent hint from the first 20 sectors of the descriptor.
    static let descriptorReadLength = 20 * 512

    /// Opens the image in `file`: a local file may name extent files beside it; any other source must be one
    /// sparse file.
    init(file: RandomAccessSource, followExtents: Bool) throws {
        self.file = file
        let path = file.displayName
        self.path = path
        let head = try file.head(512)
        let descriptor: VmdkDescriptor
        if head.starts(with: VmdkSparseHeader.magic) {
            let header = try Self.sparseHeader(file, head: head)
            createType = header.isCompressed ? "streamOptimized" : "monolithicSparse"
            // qemu reads the embedded descriptor at 0x200 whatever desc_offset says (s->desc_offset = 0x200).
            var text = [UInt8](repeating: 0, count: Self.descriptorReadLength)
            _ = try text.withUnsafeMutableBytes { try file.readFully(at: 512, into: $0) }
            descriptor = VmdkDescriptor(text)
            let extent = try Self.sparseExtent(file, header: header, format: "")
            extents = [extent]
        } else if head.starts(with: Array("COWD".utf8)) {
            throw DiskImportError.unsupported("\(path): vmdk version 3 (COWD) sparse extents are not supported")
        } else {
            guard file.length >= 4 else { throw DiskImportError.corrupt("\(path): vmdk: file is too small, not a valid image") }
            var text = [UInt8](repeating: 0, count: Int(min(file.length, (1 << 20) - 1)))
            _ = try text.withUnsafeMutableBytes { try file.readFully(at: 0, into: $0) }
            descriptor = VmdkDescriptor(text)
            guard let type = descriptor.createType() else { throw DiskImportError.corrupt("\(path): vmdk: invalid VMDK image descriptor (no createType)") }
            let descriptorTypes = ["monolithicFlat", "vmfs", "vmfsSparse", "seSparse", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat"]
            guard descriptorTypes.contains(type) else { throw DiskImportError.unsupported("\(path): vmdk: unsupported image type '\(type)'") }
            createType = type
            let lines = try VmdkExtentLine.parse(descriptor, name: path)
            if !lines.isEmpty && !followExtents {
                throw DiskImportError.unsupported("Image \(path) is invalid because it has extent file \(lines[0].fileName); extent files are only followed for plain local images")
            }
            extents = try lines.map { try Self.openExtent($0, namedBy: path) }
        }
        guard let cid = descriptor.cid(parent: false), let parentCID = descriptor.cid(parent: true) else {
            throw DiskImportError.corrupt("\(path): vmdk: the descriptor has no CID or parentCID")
        }
        self.cid = cid
        self.parentCID = parentCID
        parentHint = try descriptor.parentFileNameHint(name: path)
        var start: UInt64 = 0
        for extent in extents {
            extent.start = start
            let (sum, overflow) = start.addingReportingOverflow(extent.length)
            guard !overflow, sum <= UInt64(Int64.max) else { throw DiskImportError.corrupt("\(path): vmdk: the extents add up to more than 2^63 bytes") }
            start = sum
        }
        virtualSize = start
    }

    /// The sparse header at the head of `file`; the footer's, when the header says the directory is at the end.
    static func sparseHeader(_ file: RandomAccessSource, head: [UInt8]) throws -> VmdkSparseHeader {
        var header = try head.withUnsafeBytes { try VmdkSparseHeader($0, name: file.displayName) }
        if header.gdOffset == VmdkSparseHeader.gdAtEnd {
            guard file.length >= UInt64(VmdkFooter.length) + 512 else { throw DiskImportError.corrupt("\(file.displayName): vmdk: invalid footer (file too short)") }
            var footer = [UInt8](repeating: 0, count: VmdkFooter.length)
            // qemu reads the footer at the file's length in whole sectors less 1536.
            try footer.withUnsafeMutableBytes { try file.readExactly(at: file.length / 512 * 512 - 1536, into: $0, what: "vmdk footer") }
            header = try footer.withUnsafeBytes { try VmdkFooter.header($0, name: file.displayName) }
        }
        try header.validate(fileLength: file.length, name: file.displayName)
        return header
    }

    /// A hosted sparse extent with its grain directory.
    static func sparseExtent(_ file: RandomAccessSource, header: VmdkSparseHeader, format: String) throws -> VmdkExtent {
        var metadata: [(Range<UInt64>, String)] = [(0..<512, "the header")]
        // A descriptor past the end of the file claims no sector of it (and its offset * 512 may pass 64 bits).
        if header.descriptorOffset > 0, header.descriptorOffset < file.length / 512, header.descriptorSize > 0,
           header.descriptorSize < file.length / 512 + 1 {
            metadata.append((header.descriptorOffset * 512..<(header.descriptorOffset + header.descriptorSize) * 512, "the descriptor"))
        }
        let entries = Int(header.gdEntries)
        if header.hasRedundantGD, header.redundantGDOffset > 0, header.redundantGDOffset != header.gdOffset,
           header.redundantGDOffset < file.length / 512 {
            metadata.append((header.redundantGDOffset * 512..<header.redundantGDOffset * 512 + UInt64(entries * 4), "the redundant grain directory"))
        }
        guard header.gdOffset < UInt64(Int64.max) / 512 else {
            throw DiskImportError.corrupt("\(file.displayName): vmdk: grain directory offset 0x\(String(header.gdOffset, radix: 16)) sectors is out of range")
        }
        let directory = try VmdkGrainDirectory(source: file, layout: .hosted(zeroGrain: header.hasZeroGrain, compressed: header.isCompressed),
                                               grainBytes: header.grainBytes, gtesPerGT: Int(header.gtesPerGT),
                                               gdOffset: header.gdOffset * 512, gdEntries: entries, metadata: metadata)
        let info = VmdkExtentInfo(filename: file.displayName, format: format, virtualSize: header.virtualSize,
                                  compressed: header.isCompressed, clusterSize: header.grainBytes)
        return VmdkExtent(source: file, storage: .sparse(directory, hasMarkers: header.hasMarkers), length: header.virtualSize, info: info)
    }

    /// The extent an extent line names, opened beside the descriptor.
    private static func openExtent(_ line: VmdkExtentLine, namedBy path: String) throws -> VmdkExtent {
        let file = try VmdkFileNames.open(line.fileName, namedBy: path, role: "extent file")
        switch line.kind {
        case .flat, .vmfs:
            let info = VmdkExtentInfo(filename: file.path, format: line.kind.rawValue, virtualSize: line.sectors * 512, compressed: false, clusterSize: nil)
            return VmdkExtent(source: file, storage: .flat(offset: line.flatOffset * 512), length: line.sectors * 512, info: info)
        case .sparse, .vmfsSparse:
            let head = try file.head(512)
            guard head.starts(with: VmdkSparseHeader.magic) else {
                if head.starts(with: Array("COWD".utf8)) { throw DiskImportError.unsupported("\(file.path): vmdk version 3 (COWD) sparse extents are not supported") }
                throw DiskImportError.corrupt("\(file.path): vmdk: extent file is not in VMDK format")
            }
            // qemu sizes a sparse extent by its own header, not by the descriptor's line.
            return try sparseExtent(file, header: try sparseHeader(file, head: head), format: line.kind.rawValue)
        case .seSparse:
            return try seSparseExtent(file)
        }
    }

    /// An seSparse extent (qemu's vmdk_open_se_sparse).
    private static func seSparseExtent(_ file: LocalFile) throws -> VmdkExtent {
        let head = try file.head(512)
        let header = try head.withUnsafeBytes { try VmdkSESparseHeader($0, name: file.path) }
        var volatile = [UInt8](repeating: 0, count: 512)
        guard header.volatileHeaderOffset < file.length / 512 else { throw DiskImportError.corrupt("\(file.path): vmdk seSparse: the volatile header lies past the end of the file") }
        try volatile.withUnsafeMutableBytes { try file.readExactly(at: header.volatileHeaderOffset * 512, into: $0, what: "vmdk seSparse volatile header") }
        try volatile.withUnsafeBytes { try VmdkSESparseHeader.checkVolatile($0, name: file.path) }
        let metadata: [(Range<UInt64>, String)] = [(0..<512, "the const header"),
                                                   (header.volatileHeaderOffset * 512..<header.volatileHeaderOffset * 512 + 512, "the volatile header")]
        let directory = try VmdkGrainDirectory(source: file, layout: .seSparse(tablesOffset: header.grainTablesOffset, grainsOffset: header.grainsOffset),
                                               grainBytes: header.grainSize * 512, gtesPerGT: Int(header.gtesPerGT),
                                               gdOffset: header.grainDirOffset * 512, gdEntries: Int(header.gdEntries), metadata: metadata)
        if directory.grainCount * header.grainSize < header.capacity {
            throw DiskImportError.corrupt("\(file.path): vmdk seSparse: the grain directory (\(header.gdEntries) entries) is too small for the capacity")
        }
        let info = VmdkExtentInfo(filename: file.path, format: "SESPARSE", virtualSize: header.capacity * 512, compressed: false, clusterSize: header.grainSize * 512)
        return VmdkExtent(source: file, storage: .sparse(directory, hasMarkers: false), length: header.capacity * 512, info: info)
    }

    /// Starts a new walk of every sparse extent (see `VmdkGrainDirectory.restart`).
    func restart() {
        for extent in extents { if case .sparse(let directory, _) = extent.storage { directory.restart() } }
    }

    /// The extent holding guest offset `offset` (< `virtualSize`), searched from `hint`.
    func extentIndex(at offset: UInt64, from hint: Int) -> Int {
        var i = hint < extents.count && extents[hint].start <= offset ? hint : 0
        while i < extents.count && extents[i].start + extents[i].length <= offset { i += 1 }
        return i
    }
}
