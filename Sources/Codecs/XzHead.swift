import CLzma
import DiskImportCore

/// The first decoded bytes of .xz data, for sniffing what it holds without consuming the stream: a throwaway
/// single-threaded decoder (`lzma_stream_decoder`) runs over compressed bytes the caller peeked.
public enum XzHead {
    /// Up to `count` decoded bytes of `compressed` (the start of an .xz file); fewer when the data decodes to less
    /// (a short file, or too few compressed bytes); nil when they do not decode (the real decoder will say why).
    public static func decoded(from compressed: [UInt8], count: Int,
                               memoryLimit: UInt64 = XzStream.defaultMemoryLimit) -> [UInt8]? {
        var strm = lzma_stream()
        guard lzma_stream_decoder(&strm, memoryLimit, clzma_concatenated) == LZMA_OK else { return nil }
        defer { lzma_end(&strm) }
        var output = [UInt8](repeating: 0, count: count)
        let produced: Int? = compressed.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                strm.next_in = input.baseAddress
                strm.avail_in = input.count
                strm.next_out = out.baseAddress
                strm.avail_out = out.count
                while strm.avail_out > 0 {
                    let rc = lzma_code(&strm, LZMA_RUN)
                    if rc == LZMA_STREAM_END || (rc == LZMA_OK && strm.avail_in == 0) || rc == LZMA_BUF_ERROR { break }
                    if rc != LZMA_OK { return nil }
                }
                return out.count - strm.avail_out
            }
        }
        guard let produced else { return nil }
        return Array(output[..<produced])
    }

    /// Up to `count` decoded bytes of the .xz data next in `stream`, from up to 4 MiB of compressed bytes peeked (not
    /// consumed); fewer only when the data ends first. Nil when they do not decode (left to XzStream to report) or
    /// when 4 MiB do not decode to that many.
    public static func decoded(peeking stream: PeekableStream, count: Int) throws -> [UInt8]? {
        for peek in [64 << 10, 1 << 20, 4 << 20] {
            let compressed = try stream.peek(peek)
            guard let head = decoded(from: compressed, count: count) else { return nil }
            if head.count == count || compressed.count < peek { return head }
        }
        return nil
    }
}
