import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// An OVA: a tar whose first file is an OVF descriptor, followed by the files it references (DSP0243's "distribution as a single
/// file" requires that order, so a stream needs nothing held back). The disk wanted is the member the descriptor names,
/// read straight from the stream like any tar entry; the members before it (other disks, a manifest) are skipped.
enum OvaArchive {
    /// Whether `path` names an OVF descriptor (by its extension, as DSP0243 names it).
    static func isDescriptor(_ path: ArchivePath) -> Bool {
        guard let last = path.components.last else { return false }
        return String(decoding: last, as: UTF8.self).lowercased().hasSuffix(".ovf")
    }

    /// The data of disk `number` (1-based) of the OVA whose descriptor is `entry`, the entry `reader` stands on.
    static func disk(number: Int, descriptor entry: TarReader.Entry, in reader: TarReader) throws -> ByteStream {
        let descriptorPath = ArchivePath(entry.path)
        guard entry.size <= OvfDescriptor.maximumLength else {
            throw DiskImportError.unsupported("OVA: the OVF descriptor \(entry.displayPath) is \(entry.size) bytes, more than the \(OvfDescriptor.maximumLength >> 20) MiB diskimport reads")
        }
        let disk = try OvfDescriptor(bytes: try read(entry, from: reader)).disk(number)
        let wanted = Array(descriptorPath.components.dropLast()) + [Array(disk.href.utf8)]
        while let member = try reader.nextEntry() {
            let path = ArchivePath(member.path)
            guard path.components == wanted, !path.isAbsolute, !path.climbsOut else { continue }
            guard member.fileType == UInt32(S_IFREG), member.hardlinkTarget == nil else {
                throw DiskImportError.unsupported("OVA: the disk member \(member.displayPath) is a link or a directory, not a file")
            }
            return TarEntryStream(reader: reader, length: member.size)
        }
        throw DiskImportError.corrupt("OVA: the OVF's disk \(OvfDescriptor.display(disk.diskID)) is in \(OvfDescriptor.display(disk.href)), which the archive does not hold after its descriptor")
    }

    /// The descriptor's bytes (at most `OvfDescriptor.maximumLength`, checked by the caller).
    private static func read(_ entry: TarReader.Entry, from reader: TarReader) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(entry.size))
        var filled = 0
        while filled < bytes.count {
            let n = try bytes.withUnsafeMutableBytes { try reader.readData(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            if n == 0 { break }
            filled += n
        }
        guard filled == bytes.count else {
            throw DiskImportError.corrupt("OVA: the OVF descriptor \(entry.displayPath) ends after \(filled) of its \(entry.size) bytes")
        }
        return bytes
    }
}
