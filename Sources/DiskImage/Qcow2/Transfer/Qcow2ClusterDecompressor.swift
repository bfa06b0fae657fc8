import CDeflate
import CZlib
import CZstd

/// Decodes compressed qcow2 clusters into exactly one cluster of output, accepting what qemu 7.2 accepts
/// (block/qcow2-threads.c). One per worker thread: it keeps its decoder contexts between clusters.
final class Qcow2ClusterDecompressor {
    private let deflate: OpaquePointer
    private var zlib: UnsafeMutablePointer<z_stream>?
    private var zstd: OpaquePointer?

    /// zstd frames may ask for windows of up to 128 MiB; qemu's clusters are at most 2 MiB, so a frame that
    /// asks for more than 8 MiB is refused rather than allowed to grow memory.
    static let zstdWindowLogMax: Int32 = 23

    init() {
        // libdeflate_alloc_decompressor only fails when malloc does.
        guard let d = libdeflate_alloc_decompressor() else { fatalError("libdeflate_alloc_decompressor: out of memory") }
        deflate = d
    }

    deinit {
        libdeflate_free_decompressor(deflate)
        if let zlib {
            inflateEnd(zlib)
            zlib.deallocate()
        }
        if let zstd { ZSTD_freeDCtx(zstd) }
    }

    /// Decodes `input` (the descriptor's bytes, zero-filled past the end of the file) into all of `output`
    /// (one cluster). Returns false when qemu would fail the read as corrupt.
    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                    type: Qcow2CompressionType) -> Bool {
        switch type {
        case .zlib: return inflateRawDeflate(input, into: output)
        case .zstd: return decompressZstd(input, into: output)
        }
    }

    /// Raw deflate (window bits -12). libdeflate decodes whole buffers about twice as fast as zlib; it succeeds
    /// with exactly one cluster of output for every cluster qemu writes. Its other outcomes (short output, more
    /// than a cluster, bad data) are decided by zlib with qemu's exact rule, so corner cases match qemu.
    private func inflateRawDeflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard let inBase = input.baseAddress, let outBase = output.baseAddress else { return false }
        var consumed = 0, produced = 0
        let result = libdeflate_deflate_decompress_ex(deflate, inBase, input.count, outBase, output.count, &consumed, &produced)
        if result == LIBDEFLATE_SUCCESS && produced == output.count { return true }
        return inflateLikeQemu(input, into: output)
    }

    /// qemu's qcow2_zlib_decompress: one inflate(Z_FINISH) into the cluster; success is Z_STREAM_END, or
    /// Z_BUF_ERROR with the output full (the input is sector-rounded, so longer than the stream).
    private func inflateLikeQemu(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        let stream: UnsafeMutablePointer<z_stream>
        if let zlib {
            stream = zlib
            guard inflateReset(stream) == Z_OK else { return false }
        } else {
            stream = .allocate(capacity: 1)
            stream.initialize(to: z_stream())
            guard czlib_inflate_init2(stream, -12) == Z_OK else {
                stream.deallocate()
                return false
            }
            zlib = stream
        }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(clamping: input.count)
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = UInt32(clamping: output.count)
        let rc = inflate(stream, Z_FINISH)
        return (rc == Z_STREAM_END || rc == Z_BUF_ERROR) && stream.pointee.avail_out == 0
    }

    /// qemu's qcow2_zstd_decompress: stream-decompress (possibly several frames) until the cluster is full;
    /// every call must make progress, and the last frame must end exactly at the end of the cluster.
    private func decompressZstd(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        let context: OpaquePointer
        if let zstd {
            context = zstd
            guard ZSTD_isError(ZSTD_DCtx_reset(context, ZSTD_reset_session_only)) == 0 else { return false }
        } else {
            guard let created = ZSTD_createDCtx() else { return false }
            guard ZSTD_isError(ZSTD_DCtx_setParameter(created, ZSTD_d_windowLogMax, Self.zstdWindowLogMax)) == 0 else {
                ZSTD_freeDCtx(created)
                return false
            }
            zstd = created
            context = created
        }
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        var rc = 0
        while outBuffer.pos < outBuffer.size {
            let lastIn = inBuffer.pos, lastOut = outBuffer.pos
            rc = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
            if ZSTD_isError(rc) != 0 { return false }
            if inBuffer.pos <= lastIn && outBuffer.pos <= lastOut { return false }
        }
        return rc == 0
    }
}
