import CLzma
import DiskImportCore

/// What the index of an .xz file says, read with random access from its end (`lzma_file_info_decoder`): only the
/// stream headers, footers and indexes are read, never a block, so a file of many GiB costs a few KiB.
public enum XzIndex {
    /// An index of a hostile file may claim millions of blocks; a disk image's has a few hundred.
    public static let memoryLimit: UInt64 = 64 << 20

    /// The decoded size of every stream in `source` (an .xz file, concatenated streams and stream padding included).
    public static func uncompressedSize(of source: RandomAccessSource) throws -> UInt64 {
        var strm = lzma_stream()
        var index: OpaquePointer?
        guard lzma_file_info_decoder(&strm, &index, memoryLimit, source.length) == LZMA_OK else {
            throw DiskImportError(.io, "xz: cannot start the index decoder")
        }
        defer {
            lzma_end(&strm)
            if let index { lzma_index_end(index, nil) }
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 64)
        defer { buffer.deallocate() }
        var position: UInt64 = 0
        // Enough for any real file: each round either moves on by a buffer or seeks to where the next index is.
        for _ in 0..<100_000 {
            if strm.avail_in == 0 {
                let n = try source.read(at: position, into: buffer)
                strm.next_in = UnsafePointer(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
                strm.avail_in = n
                position += UInt64(n)
            }
            let rc = lzma_code(&strm, strm.avail_in == 0 ? LZMA_FINISH : LZMA_RUN)
            switch rc {
            case LZMA_OK:
                continue
            case LZMA_SEEK_NEEDED:
                position = strm.seek_pos
                strm.avail_in = 0
            case LZMA_STREAM_END:
                guard let index else { throw DiskImportError.corrupt("xz: the index decoder gave no index") }
                return lzma_index_uncompressed_size(index)
            case LZMA_BUF_ERROR:
                throw DiskImportError.corrupt("xz: the file ends before its index (truncated file)")
            case LZMA_FORMAT_ERROR:
                throw DiskImportError.corrupt("xz: not .xz data (bad stream header or footer magic)")
            case LZMA_MEMLIMIT_ERROR:
                throw DiskImportError(.limit, "xz: the index needs more than \(memoryLimit >> 20) MiB of memory")
            default:
                throw DiskImportError.corrupt("xz: the index: \(XzStream.describe(rc))")
            }
        }
        throw DiskImportError.corrupt("xz: the index could not be read (too many seeks)")
    }
}
