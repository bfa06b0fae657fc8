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

    /// The disk entry of `stream`; a clear error when there is none.
    public static func open(_ stream: ByteStream) throws -> ByteStream {
        guard let entry = try find(in: stream) else {
            throw DiskImportError.corrupt("tar: no disk image found under disk/")
        }
        return entry
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
