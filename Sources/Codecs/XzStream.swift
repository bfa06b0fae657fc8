import CLzma
import DiskImportCore

/// Decompresses .xz data with liblzma's multi-threaded decoder (`lzma_stream_decoder_mt`), stream after stream
/// (`LZMA_CONCATENATED`: `cat a.xz b.xz` is one valid file, as for the xz tool).
///
/// Parallelism comes from the file, not from us: `xz -T N` (and xz 5.4's default) writes several blocks with their
/// sizes in the block headers, and liblzma hands those blocks to worker threads. A file written as one block (`xz -T1`,
/// xz before 5.4, most `lzma_easy_encoder` users) decodes on one core whatever we do: LZMA2 is sequential within a block.
///
/// Memory: the threaded decoder buffers whole blocks (compressed and decompressed) per worker, and keeps decoded
/// blocks queued until they are read, so it only starts a block while `threadingMemoryLimit` allows; past that it
/// waits for memory to come back, or decodes a block that alone exceeds the limit on one thread (with only its
/// dictionary: `xz -9`'s 192 MiB blocks). `memoryLimit` is a hard stop: a header asking for a dictionary that needs
/// more (a hostile file, or `--lzma2=dict=1GiB`) is refused with a `.limit` error instead of allocated.
public final class XzStream: ByteStream {
    /// Default for `threadingMemoryLimit`: two workers on the 24 MiB blocks of `xz -T2 -6` (xz 5.4's default) cost
    /// about 2 x (24 MiB out + 8 MiB dictionary + the compressed block) = 78 MiB for a disk image. liblzma fills what
    /// the limit allows when the stage after it is slower than decoding: at 128 MiB it held 125 MiB, and the import
    /// peaked at 158 MiB RSS (28 MiB of it the binary and its shared libraries), over the 128 MiB budget of a
    /// streaming import (DESIGN.md section 3). Raw images inside xz no longer come here (XzParallelRawReader); what
    /// does is mostly qcow2.xz, whose streaming reader and the HTTPS download hold ~20 MiB more: a 4 GiB qcow2.xz over
    /// HTTPS peaked at 127-129 MiB with 80 MiB here, 124 MiB with 76 (about 9% slower). `DISKIMPORT_XZ_THREADING_MIB`
    /// overrides it, for measurement.
    public static let defaultThreadingMemoryLimit: UInt64 = {
        if let mib = MeasurementKnob.positiveInteger("DISKIMPORT_XZ_THREADING_MIB") { return UInt64(min(mib, 1 << 20)) << 20 }
        return 76 << 20
    }()
    /// Default for `memoryLimit`: far above every xz preset (`-9e` needs 65 MiB single-threaded), far below a hostile 1.5 GiB dictionary.
    public static let defaultMemoryLimit: UInt64 = 256 << 20

    private let upstream: ByteStream
    private var strm = lzma_stream()
    private let input: UnsafeMutableRawBufferPointer
    private var upstreamEnded = false
    private var finished = false
    private var pendingError: DiskImportError?
    private let memoryLimit: UInt64

    /// - Parameters:
    ///   - threads: worker threads; default the CPUs this process may run on (`lzma_cputhreads`).
    ///   - threadingMemoryLimit: liblzma's `memlimit_threading`: above it, fewer threads (never an error).
    ///   - memoryLimit: liblzma's `memlimit_stop`: above it, decoding stops with a `.limit` error.
    public init(_ upstream: ByteStream, threads: Int? = nil, threadingMemoryLimit: UInt64 = defaultThreadingMemoryLimit,
                memoryLimit: UInt64 = defaultMemoryLimit, inputBufferSize: Int = 1 << 20) throws {
        self.upstream = upstream
        self.memoryLimit = memoryLimit
        var options = lzma_mt()
        options.flags = clzma_concatenated | clzma_tell_unsupported_check
        options.threads = UInt32(clamping: max(1, threads ?? Int(lzma_cputhreads())))
        // 0: lzma_code blocks until it has filled the output or used all input; a stage on its own thread wants that.
        options.timeout = 0
        options.memlimit_threading = min(threadingMemoryLimit, memoryLimit)
        options.memlimit_stop = memoryLimit
        strm.allocator = clzma_mapping_allocator()
        let rc = lzma_stream_decoder_mt(&strm, &options)
        guard rc == LZMA_OK else {
            throw DiskImportError(.io, "xz: cannot start the decoder (\(XzStream.describe(rc)))")
        }
        input = .allocate(byteCount: inputBufferSize, alignment: 64)
    }

    deinit {
        lzma_end(&strm)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let pendingError { throw pendingError }
        guard !finished, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        strm.next_out = base.assumingMemoryBound(to: UInt8.self)
        strm.avail_out = buffer.count
        while strm.avail_out > 0 {
            if strm.avail_in == 0 && !upstreamEnded {
                let n = try upstream.read(into: input)
                if n == 0 {
                    upstreamEnded = true
                } else {
                    strm.next_in = UnsafePointer(input.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    strm.avail_in = n
                }
            }
            // With LZMA_CONCATENATED, the end of the data is only recognised after LZMA_FINISH.
            let rc = lzma_code(&strm, upstreamEnded ? LZMA_FINISH : LZMA_RUN)
            if rc == LZMA_OK { continue }
            if rc == LZMA_STREAM_END {
                finished = true
                break
            }
            let error = failure(rc)
            let produced = buffer.count - strm.avail_out
            // Hand out what was decoded before the damage; the error comes with the next read.
            if produced > 0 {
                pendingError = error
                return produced
            }
            throw error
        }
        return buffer.count - strm.avail_out
    }

    private func failure(_ rc: lzma_ret) -> DiskImportError {
        switch rc {
        case LZMA_BUF_ERROR:
            return .corrupt("xz: the data ends in the middle of a stream (truncated file)")
        case LZMA_MEMLIMIT_ERROR:
            // The threaded decoder does not always report what it would have needed; name the amount only when known.
            let needed = lzma_memusage(&strm)
            let amount = needed > memoryLimit ? "\((needed + (1 << 20) - 1) >> 20) MiB of memory, more" : "more memory"
            return DiskImportError(.limit, "xz: decoding needs \(amount) than the limit of "
                + "\(memoryLimit >> 20) MiB (the file asks for a very large dictionary)")
        case LZMA_FORMAT_ERROR:
            return .corrupt("xz: not .xz data (bad stream header magic)")
        case LZMA_UNSUPPORTED_CHECK:
            return .unsupported("xz: the stream uses an integrity check type liblzma does not support")
        default:
            return .corrupt("xz: \(XzStream.describe(rc))")
        }
    }

    static func describe(_ rc: lzma_ret) -> String {
        switch rc {
        case LZMA_DATA_ERROR: return "compressed data is corrupt (bad data or integrity check mismatch)"
        case LZMA_OPTIONS_ERROR: return "unsupported options in a header (unknown filter or flags, or a corrupt header)"
        case LZMA_MEM_ERROR: return "cannot allocate memory"
        case LZMA_PROG_ERROR: return "internal error (LZMA_PROG_ERROR)"
        default: return "error \(rc.rawValue)"
        }
    }
}
