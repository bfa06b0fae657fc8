import DiskImportCore

/// What diskimport reads of an OVF descriptor (DMTF DSP0243): the disks of its DiskSection, in order, and the file
/// in References that each one's `ovf:fileRef` names. A disk without a file (a blank disk the appliance asks to be
/// created) is not counted.
struct OvfDescriptor {
    /// Descriptors larger than this are refused: real ones are a few KiB, tens at most.
    static let maximumLength: UInt64 = 4 << 20
    /// Files or disks beyond this many are refused (a hostile descriptor, not an appliance).
    static let maximumEntries = 4096

    struct Disk: Equatable {
        var diskID: String
        var href: String
    }

    let disks: [Disk]

    init(bytes: [UInt8]) throws {
        var files: [String: (href: String, chunked: Bool)] = [:]
        var diskRefs: [(diskID: String, fileRef: String)] = []
        try XmlScanner.scan(bytes) { tag, parents in
            switch (tag.name, parents.last) {
            case ("File", "References"):
                guard let id = tag.attributes["id"], let href = tag.attributes["href"] else {
                    throw DiskImportError.corrupt("OVA: a File in the OVF's References has no ovf:id or ovf:href")
                }
                files[id] = (href, tag.attributes["chunkSize"] != nil)
            case ("Disk", "DiskSection"), ("Disk", "VirtualDiskSection"):
                if let fileRef = tag.attributes["fileRef"] { diskRefs.append((tag.attributes["diskId"] ?? "", fileRef)) }
            default:
                return
            }
            guard files.count + diskRefs.count <= Self.maximumEntries else {
                throw DiskImportError.corrupt("OVA: the OVF lists more than \(Self.maximumEntries) files and disks")
            }
        }
        disks = try diskRefs.map { ref in
            guard let file = files[ref.fileRef] else {
                throw DiskImportError.corrupt("OVA: the OVF's disk \(Self.display(ref.diskID)) names file \(Self.display(ref.fileRef)), which its References do not list")
            }
            guard !file.chunked else {
                throw DiskImportError.unsupported("OVA: the OVF's disk \(Self.display(ref.diskID)) is split into chunks (ovf:chunkSize), which diskimport does not join")
            }
            return Disk(diskID: ref.diskID, href: file.href)
        }
    }

    /// Disk `number` (1-based) and the member name it is in, checked to be a plain name in the archive: an href with
    /// `/` or `\` (a path or a URL), `.`, `..`, or control characters is refused, so a descriptor never leads outside
    /// the archive.
    func disk(_ number: Int) throws -> Disk {
        guard !disks.isEmpty else {
            throw DiskImportError.corrupt("OVA: the OVF lists no disk with a file (DiskSection/Disk ovf:fileRef)")
        }
        guard number >= 1, number <= disks.count else {
            throw DiskImportError.usage("--disk \(number): the OVF lists \(disks.count) disk\(disks.count == 1 ? "" : "s") (1 to \(disks.count))")
        }
        let disk = disks[number - 1]
        let href = disk.href
        let plain = !href.isEmpty && href != "." && href != ".." && !href.contains("/") && !href.contains("\\")
            && !href.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
        guard plain else {
            throw DiskImportError.unsupported("OVA: the OVF's disk \(Self.display(disk.diskID)) is in \(Self.display(href)), which is not a plain member name of the archive (no /, \\, . or ..)")
        }
        return disk
    }

    /// An attribute from the descriptor, safe for a one-line message.
    static func display(_ value: String) -> String {
        "\"" + ArchivePath.display(Array(value.utf8)) + "\""
    }
}
