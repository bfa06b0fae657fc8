import CLzma
import DiskImportCore

/// One block of an .xz stream, its header decoded (`lzma_block_header_decode`): the filter chain, and the compressed
/// and uncompressed sizes when the writer put them there (`xz -T N` does, since it knows them before writing; a
/// single-threaded `xz` does not).
///
/// Owns the `lzma_block` and its filter options at stable addresses: `lzma_block_decoder` keeps a pointer to the
/// `lzma_block` while it runs, and stores the sizes it found there at the end. Used by one thread at a time (the
/// parser, then the worker that decodes it).
public final class XzBlock: @unchecked Sendable {
    let block: UnsafeMutablePointer<lzma_block>
    private let filters: UnsafeMutablePointer<lzma_filter>
    /// liblzma's LZMA_VLI_UNKNOWN (a size the header leaves out).
    static let unknownSize = UInt64.max
    /// LZMA_FILTERS_MAX + 1: the filter array `lzma_block_header_decode` fills, terminated by an unknown id.
    static let filterSlots = 5
    /// Where the block's output starts in the decoded data (the sum of the blocks before it, across streams).
    public let decodedOffset: UInt64
    /// What the decoder needs (`lzma_raw_decoder_memusage`): the LZMA2 dictionary, mostly.
    public let memoryUsage: UInt64

    /// Decodes the block header in `header` (its first byte is the size byte) for a stream using `check`.
    /// Throws `.corrupt` for a damaged header, `.limit` when the decoder would need more than `memoryLimit`.
    init(header: UnsafeRawBufferPointer, check: lzma_check, decodedOffset: UInt64, memoryLimit: UInt64) throws {
        block = .allocate(capacity: 1)
        block.initialize(to: lzma_block())
        filters = .allocate(capacity: XzBlock.filterSlots)
        filters.initialize(repeating: lzma_filter(id: XzBlock.unknownSize, options: nil), count: XzBlock.filterSlots)
        self.decodedOffset = decodedOffset
        block.pointee.version = 1
        block.pointee.check = check
        block.pointee.header_size = (UInt32(header[0]) + 1) * 4
        block.pointee.filters = filters
        let rc = lzma_block_header_decode(block, nil, header.baseAddress!.assumingMemoryBound(to: UInt8.self))
        guard rc == LZMA_OK else {
            memoryUsage = 0
            throw rc == LZMA_OPTIONS_ERROR
                ? DiskImportError.unsupported("xz: a block header names an unsupported filter or option (or is corrupt)")
                : DiskImportError.corrupt("xz: a block header is corrupt (\(XzStream.describe(rc)))")
        }
        memoryUsage = lzma_raw_decoder_memusage(filters)
        if memoryUsage == UInt64.max {
            throw DiskImportError.unsupported("xz: a block header names an unsupported filter chain")
        }
        if memoryUsage > memoryLimit {
            throw DiskImportError(.limit, "xz: decoding needs \((memoryUsage + (1 << 20) - 1) >> 20) MiB of memory, more than "
                + "the limit of \(memoryLimit >> 20) MiB (the file asks for a very large dictionary)")
        }
    }

    deinit {
        lzma_filters_free(filters, nil)
        filters.deallocate()
        block.deallocate()
    }

    /// The compressed size the header declares, nil when it does not say.
    public var declaredCompressedSize: UInt64? {
        let size = block.pointee.compressed_size
        return size == XzBlock.unknownSize ? nil : size
    }

    /// The uncompressed size the header declares (after decoding: the size found), nil when unknown.
    public var uncompressedSize: UInt64? {
        let size = block.pointee.uncompressed_size
        return size == XzBlock.unknownSize ? nil : size
    }

    /// Bytes of the block after its header as it lies in the file (compressed data, padding, check), when the header
    /// declares its compressed size (`lzma_block_total_size` minus the header).
    public var dataSize: UInt64? {
        guard declaredCompressedSize != nil else { return nil }
        let total = lzma_block_total_size(block)
        guard total != 0, total != XzBlock.unknownSize else { return nil }
        return total - UInt64(block.pointee.header_size)
    }

    /// Header, compressed data and check, without padding (`lzma_block_unpadded_size`): what the index records.
    var unpaddedSize: UInt64 { lzma_block_unpadded_size(block) }
}
