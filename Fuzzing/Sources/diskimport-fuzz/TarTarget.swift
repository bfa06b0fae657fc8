@testable import Codecs
import DiskImportCore

/// Tar streams through libarchive (TarReader): every entry's header and data, in pieces; and the containerDisk
/// lookup (TarDiskEntry), compression sniffed and peeled first.
enum TarTarget {
    static func run(_ bytes: [UInt8]) {
        let seed = inputHash(bytes)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
        defer { buffer.deallocate() }
        do {
            let reader = try TarReader(ChunkedStream(bytes, seed: seed, announceLength: false), bufferSize: 4096)
            var total: UInt64 = 0
            while let entry = try reader.nextEntry() {
                let path = ArchivePath(entry.path)
                _ = (path.isWhiteout, path.components.count)
                while case let n = try reader.readData(into: buffer), n > 0 {
                    total += UInt64(n)
                    if total > CheckingSink.cap { return }
                }
            }
        } catch {}
        do {
            guard let disk = try TarDiskEntry.find(in: ChunkedStream(bytes, seed: seed >> 1, announceLength: false)) else { return }
            var total: UInt64 = 0
            while case let n = try disk.read(into: buffer), n > 0 {
                total += UInt64(n)
                if total > CheckingSink.cap { return }
            }
        } catch {}
    }
}
