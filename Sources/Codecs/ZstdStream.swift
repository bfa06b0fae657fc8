import CZstd
import DiskImportCore

/// Decompresses zstd data with libzstd's streaming decoder (`ZSTD_decompressStream`): any number of frames one after
/// another (`cat a.zst b.zst`, `zstd -T` output), skippable frames ignored as the format says.
///
/// Memory: a frame declares its window size and the decoder allocates it. `windowLogMax` refuses frames that want
/// more (default 27, 128 MiB: what `zstd -d` accepts without `--memory`, enough for every level including
/// `--ultra -22` and the default `--long`), so a hostile header cannot make us allocate gigabytes.
public final class ZstdStream: ByteStream {
    public static let defaultWindowLogMax: Int32 = 27

    private let upstream: ByteStream
    private let context: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    private var inBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    private var upstreamEnded = false
    private var finished = false
    private var pendingError: DiskImportError?
    private let windowLogMax: Int32
    /// ZSTD_decompressStream's last answer that made progress: 0 exactly when a frame ended and everything was flushed.
    private var lastHint = 1

    public init(_ upstream: ByteStream, windowLogMax: Int32 = defaultWindowLogMax, inputBufferSize: Int = 256 << 10) throws {
        self.upstream = upstream
        self.windowLogMax = windowLogMax
        guard let context = ZSTD_createDCtx() else { throw DiskImportError(.io, "zstd: cannot allocate a decoder") }
        let rc = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, windowLogMax)
        if ZSTD_isError(rc) != 0 {
            ZSTD_freeDCtx(context)
            throw DiskImportError.usage("zstd: window limit 2^\(windowLogMax): \(String(cString: ZSTD_getErrorName(rc)))")
        }
        self.context = context
        input = .allocate(byteCount: inputBufferSize, alignment: 64)
    }

    deinit {
        ZSTD_freeDCtx(context)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let pendingError { throw pendingError }
        guard !finished, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var out = ZSTD_outBuffer(dst: base, size: buffer.count, pos: 0)
        while out.pos < out.size {
            if inBuffer.pos == inBuffer.size && !upstreamEnded {
                let n = try upstream.read(into: input)
                if n == 0 {
                    upstreamEnded = true
                } else {
                    inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: n, pos: 0)
                }
            }
            let before = out.pos
            let hint = ZSTD_decompressStream(context, &out, &inBuffer)
            if ZSTD_isError(hint) != 0 {
                let error = failure(hint)
                if out.pos > 0 {
                    pendingError = error
                    return out.pos
                }
                throw error
            }
            if upstreamEnded && inBuffer.pos == inBuffer.size && out.pos == before {
                // No input left and nothing more came out: the last frame is complete if the call before said so
                // (this call, with no input, only asks for the next frame's header), else the file is cut short.
                guard lastHint == 0 else {
                    let error = DiskImportError.corrupt("zstd: the data ends in the middle of a frame (truncated file)")
                    if out.pos > 0 {
                        pendingError = error
                        return out.pos
                    }
                    throw error
                }
                finished = true
                break
            }
            lastHint = hint
        }
        return out.pos
    }

    private func failure(_ code: Int) -> DiskImportError {
        let name = String(cString: ZSTD_getErrorName(code))
        switch ZSTD_getErrorCode(code) {
        case ZSTD_error_frameParameter_windowTooLarge:
            return DiskImportError(.limit, "zstd: a frame needs a window larger than the limit of \((1 << Int(windowLogMax)) >> 20) MiB "
                + "(made with --long or a large --zstd=wlog?)")
        case ZSTD_error_prefix_unknown:
            return .corrupt("zstd: unknown frame magic (not zstd data, or garbage after the last frame)")
        case ZSTD_error_checksum_wrong:
            return .corrupt("zstd: checksum mismatch (corrupt data)")
        case ZSTD_error_memory_allocation:
            return DiskImportError(.io, "zstd: cannot allocate memory")
        default:
            return .corrupt("zstd: corrupt data (\(name))")
        }
    }
}
