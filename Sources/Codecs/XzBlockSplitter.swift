import CLzma
import DiskImportCore

/// Walks the .xz container of a compressed stream block by block, so that blocks can be decoded apart (on other
/// threads, in any order) while the container itself is verified here the way liblzma's stream decoder does it:
/// stream header, block headers, the index against the blocks seen (`lzma_index_hash_*`), the stream footer against
/// the header and the index, stream padding, and further concatenated streams (`cat a.xz b.xz` is one valid file).
///
/// Use: `nextBlock()` returns a block whose header is decoded; before asking for the next one, either read its bytes
/// with `readData(of:into:)` (when `dataSize` is known) and decode them elsewhere, or decode it here, streaming,
/// with `decodeHere(_:with:emit:)` (always possible; the only way for a block whose header omits its sizes).
/// `nextBlock()` returns nil once the last stream is verified.
///
/// A block read with `readData` is entered into the index by the sizes its header declares; its decoder checks the
/// data against those sizes, so the caller must treat that decoder's failure as the file's.
public final class XzBlockSplitter {
    private let input: XzContainerInput
    private let memoryLimit: UInt64
    private var headerFlags = lzma_stream_flags()
    private var indexHash: OpaquePointer?
    private var state = State.streamHeader
    private var streams = 0
    private let header = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
    /// Decoded bytes of the blocks so far, across streams: where the next block's output starts.
    public private(set) var decodedSize: UInt64 = 0

    private enum State {
        case streamHeader
        case blocks
        /// A block was handed out and its data not consumed yet.
        case blockPending(XzBlock)
        case done
    }

    /// - Parameter memoryLimit: a block whose decoder needs more (a huge dictionary) is refused with a `.limit` error.
    public init(_ stream: ByteStream, memoryLimit: UInt64 = XzStream.defaultMemoryLimit) {
        input = XzContainerInput(stream)
        self.memoryLimit = memoryLimit
    }

    deinit {
        lzma_index_hash_end(indexHash, nil)
        header.deallocate()
    }

    /// The next block, or nil after the last stream's index, footer and padding are verified.
    public func nextBlock() throws -> XzBlock? {
        while true {
            switch state {
            case .done:
                return nil
            case .blockPending:
                preconditionFailure("XzBlockSplitter: the previous block's data was not consumed")
            case .streamHeader:
                try readStreamHeader()
                state = .blocks
            case .blocks:
                guard let first = try input.peekByte() else { throw Self.truncated }
                if first == 0 {
                    try verifyIndexAndFooter()
                    state = try skipPadding() ? .streamHeader : .done
                    continue
                }
                let block = try readBlockHeader(sizeByte: first)
                state = .blockPending(block)
                return block
            }
        }
    }

    /// Reads the bytes of the pending `block` after its header (data, padding, check: `dataSize` of them).
    public func readData(of block: XzBlock, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard case .blockPending(let pending) = state, pending === block, let size = block.dataSize, size == buffer.count,
              let uncompressed = block.uncompressedSize else {
            preconditionFailure("XzBlockSplitter.readData: not the pending block, or its sizes are unknown")
        }
        guard try input.readExactly(into: buffer) else { throw Self.truncated }
        try record(block, uncompressedSize: uncompressed)
    }

    /// Decodes the pending `block` from the stream on this thread, handing its output to `emit` chunk by chunk.
    public func decodeHere(_ block: XzBlock, with decoder: XzBlockDecoder,
                           emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard case .blockPending(let pending) = state, pending === block else {
            preconditionFailure("XzBlockSplitter.decodeHere: not the pending block")
        }
        try decoder.start(block)
        while true {
            let window = try input.window()
            if window.isEmpty { throw Self.truncated }
            let (consumed, ended) = try decoder.decode(window, emit: emit)
            input.consume(consumed)
            if ended { break }
        }
        guard let uncompressed = block.uncompressedSize else {
            throw DiskImportError.corrupt("xz: a block ended without its size being known")
        }
        try record(block, uncompressedSize: uncompressed)
    }

    static let truncated = DiskImportError.corrupt("xz: the data ends in the middle of a stream (truncated file)")

    private func readStreamHeader() throws {
        guard try input.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: header[..<12])) else { throw Self.truncated }
        let rc = lzma_stream_header_decode(&headerFlags, header.baseAddress!.assumingMemoryBound(to: UInt8.self))
        switch rc {
        case LZMA_OK: break
        case LZMA_FORMAT_ERROR where streams > 0:
            throw DiskImportError.corrupt("xz: the data after a stream is neither padding nor another stream (corrupt file)")
        case LZMA_FORMAT_ERROR: throw DiskImportError.corrupt("xz: not .xz data (bad stream header magic)")
        case LZMA_OPTIONS_ERROR: throw DiskImportError.unsupported("xz: the stream header has unsupported flags")
        default: throw DiskImportError.corrupt("xz: the stream header is corrupt (\(XzStream.describe(rc)))")
        }
        if lzma_check_is_supported(headerFlags.check) == 0 {
            throw DiskImportError.unsupported("xz: the stream uses an integrity check type liblzma does not support")
        }
        streams += 1
        lzma_index_hash_end(indexHash, nil)
        indexHash = lzma_index_hash_init(nil, nil)
        if indexHash == nil { throw DiskImportError(.io, "xz: cannot allocate memory for the index") }
    }

    private func readBlockHeader(sizeByte: UInt8) throws -> XzBlock {
        let size = (Int(sizeByte) + 1) * 4
        guard try input.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: header[..<size])) else { throw Self.truncated }
        return try XzBlock(header: UnsafeRawBufferPointer(rebasing: header[..<size]), check: headerFlags.check,
                           decodedOffset: decodedSize, memoryLimit: memoryLimit)
    }

    /// Enters the consumed `block` into the index hash and moves the decoded offset past it.
    private func record(_ block: XzBlock, uncompressedSize: UInt64) throws {
        state = .blocks
        let (end, overflow) = decodedSize.addingReportingOverflow(uncompressedSize)
        guard !overflow, lzma_index_hash_append(indexHash, block.unpaddedSize, uncompressedSize) == LZMA_OK else {
            throw DiskImportError.corrupt("xz: the block sizes add up to more than an .xz stream can hold")
        }
        decodedSize = end
    }

    /// Decodes the index (its indicator byte is next) against the blocks seen, then the footer against both.
    private func verifyIndexAndFooter() throws {
        while true {
            let window = try input.window()
            if window.isEmpty { throw Self.truncated }
            var position = 0
            let rc = lzma_index_hash_decode(indexHash, window.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                            &position, window.count)
            input.consume(position)
            if rc == LZMA_STREAM_END { break }
            guard rc == LZMA_OK else {
                throw DiskImportError.corrupt("xz: the index does not match the blocks (corrupt file)")
            }
        }
        guard try input.readExactly(into: UnsafeMutableRawBufferPointer(rebasing: header[..<12])) else { throw Self.truncated }
        var footerFlags = lzma_stream_flags()
        let rc = lzma_stream_footer_decode(&footerFlags, header.baseAddress!.assumingMemoryBound(to: UInt8.self))
        guard rc == LZMA_OK else {
            throw DiskImportError.corrupt("xz: the stream footer is corrupt (bad magic or CRC)")
        }
        guard lzma_stream_flags_compare(&headerFlags, &footerFlags) == LZMA_OK,
              footerFlags.backward_size == lzma_index_hash_size(indexHash) else {
            throw DiskImportError.corrupt("xz: the stream footer does not match its header or index (corrupt file)")
        }
    }

    /// Skips stream padding (zero bytes, a multiple of four); true when another stream follows.
    private func skipPadding() throws -> Bool {
        var padding = 0
        while true {
            let window = try input.window()
            if window.isEmpty { break }
            var zeros = 0
            while zeros < window.count && window[zeros] == 0 { zeros += 1 }
            input.consume(zeros)
            padding &+= zeros
            if zeros < window.count { break }
        }
        guard padding % 4 == 0 else {
            throw DiskImportError.corrupt("xz: stream padding is not a multiple of four bytes (corrupt file)")
        }
        return try input.peekByte() != nil
    }
}
