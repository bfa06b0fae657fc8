import CLzma
import DiskImportCore

/// Decodes single .xz blocks (`lzma_block_decoder`) into a fixed chunk that is handed out as it fills, so memory is
/// the dictionary plus one chunk whatever the block's size. Verifies the block's sizes against its header, and its
/// check (CRC32, CRC64, SHA-256) at its end.
///
/// One decoder per thread, reused block after block: liblzma keeps the dictionary allocation when the next block
/// asks for the same size, so a worker does not fault in 8 MiB of fresh pages per block.
public final class XzBlockDecoder {
    private var strm = lzma_stream()
    private let chunk: UnsafeMutableRawBufferPointer
    /// Bytes of `chunk` decoded and not handed out yet.
    private var filled = 0

    public init(chunkSize: Int = 1 << 20) {
        chunk = .allocate(byteCount: chunkSize, alignment: 4096)
    }

    deinit {
        lzma_end(&strm)
        chunk.deallocate()
    }

    /// Prepares to decode `block`, whose bytes after the header come next.
    public func start(_ block: XzBlock) throws {
        filled = 0
        let rc = lzma_block_decoder(&strm, block.block)
        guard rc == LZMA_OK else {
            throw DiskImportError.corrupt("xz: cannot decode a block (\(XzStream.describe(rc)))")
        }
    }

    /// Decodes what it can of `input` (the block's bytes, in order), handing out the output chunk by chunk.
    /// Returns the bytes of `input` used and whether the block (its check included) ended; the bytes after the end
    /// are not used.
    public func decode(_ input: UnsafeRawBufferPointer,
                       emit: (UnsafeRawBufferPointer) throws -> Void) throws -> (consumed: Int, ended: Bool) {
        strm.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        strm.avail_in = input.count
        while true {
            strm.next_out = chunk.baseAddress!.advanced(by: filled).assumingMemoryBound(to: UInt8.self)
            strm.avail_out = chunk.count - filled
            let rc = lzma_code(&strm, LZMA_RUN)
            filled = chunk.count - strm.avail_out
            let consumed = input.count - strm.avail_in
            switch rc {
            case LZMA_STREAM_END:
                try flush(emit)
                return (consumed, true)
            case LZMA_OK:
                if strm.avail_out == 0 {
                    try flush(emit)
                } else if strm.avail_in == 0 {
                    return (consumed, false)
                }
            case LZMA_BUF_ERROR where strm.avail_in == 0:
                return (consumed, false)
            default:
                throw DiskImportError.corrupt("xz: \(XzStream.describe(rc))")
            }
        }
    }

    /// Decodes a whole block whose bytes after the header are all in `data`.
    public func decodeWhole(_ block: XzBlock, from data: UnsafeRawBufferPointer,
                            emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try start(block)
        let (consumed, ended) = try decode(data, emit: emit)
        guard ended, consumed == data.count else {
            throw DiskImportError.corrupt("xz: a block's data does not match the sizes in its header")
        }
    }

    private func flush(_ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard filled > 0 else { return }
        let count = filled
        filled = 0
        try emit(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
    }
}
