import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// The disk inside a containerDisk layer: the first regular file under `disk/` of a tar stream (plain, or
/// gzip/xz/zstd-compressed, sniffed by magic), as a `ByteStream` of its bytes.
///
/// Registry imports call this layer by layer in manifest order. Directories, links, whiteouts (`.wh.*`) and files
/// elsewhere are skipped. Nothing is ever opened by a path from the tar: the entry is read straight from the stream.
public enum TarDiskEntry {
    /// The disk entry of `stream`, or nil when the archive has none (the next layer may).
    public static func find(in stream: ByteStream) throws -> ByteStream? {
        let layers = LayerStack(stream, length: nil)
        try layers.peelCompression()
        let reader = try TarReader(layers.stream)
        while let entry = try reader.nextEntry() {
            let path = ArchivePath(entry.path)
            guard entry.fileType == UInt32(S_IFREG), entry.hardlinkTarget == nil, !path.isWhiteout,
                  path.components.count >= 2, path.components[0] == Array("disk".utf8) else { continue }
            return TarEntryStream(reader: reader, length: entry.size)
        }
        return nil
    }

    /// The disk of a tar wrapper and whether the tar is an OVA: when its first file is an OVF descriptor, the disk it
    /// references (`ovaDisk`, 1-based; the first by default, `OvaArchive`), else the first regular file under
    /// `disk/`. A clear error when there is none, when `ovaDisk` is given for a tar that is no OVA, or when an OVF
    /// descriptor comes after other files (its disks may have passed already: the stream is not read twice).
    public static func open(_ stream: ByteStream, ovaDisk: Int? = nil) throws -> (stream: ByteStream, isOva: Bool) {
        let layers = LayerStack(stream, length: nil)
        try layers.peelCompression()
        let reader = try TarReader(layers.stream)
        var firstFile: String?
        var lateDescriptor: String?
        while let entry = try reader.nextEntry() {
            guard entry.fileType == UInt32(S_IFREG), entry.hardlinkTarget == nil else { continue }
            let path = ArchivePath(entry.path)
            if firstFile == nil {
                firstFile = entry.displayPath
                if OvaArchive.isDescriptor(path) {
                    return (try OvaArchive.disk(number: ovaDisk ?? 1, descriptor: entry, in: reader), true)
                }
                if let ovaDisk {
                    throw DiskImportError.usage("--disk \(ovaDisk): the tar is not an OVA (its first file, \(entry.displayPath), is not an .ovf descriptor)")
                }
            }
            if OvaArchive.isDescriptor(path) { lateDescriptor = lateDescriptor ?? entry.displayPath }
            if !path.isWhiteout, path.components.count >= 2, path.components[0] == Array("disk".utf8) {
                return (TarEntryStream(reader: reader, length: entry.size), false)
            }
        }
        if let lateDescriptor {
            throw DiskImportError.unsupported("OVA: its OVF descriptor \(lateDescriptor) is not its first file (\(firstFile ?? "?") is): diskimport reads an OVA whose descriptor comes first, as the OVF specification requires")
        }
        throw DiskImportError.corrupt("tar: no disk image found under disk/")
    }
}

/// The data of the tar entry a `TarReader` stands on.
final class TarEntryStream: ByteStream {
    private let reader: TarReader
    let expectedLength: UInt64?

    init(reader: TarReader, length: UInt64) {
        self.reader = reader
        expectedLength = length
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try reader.readData(into: buffer)
    }
}
