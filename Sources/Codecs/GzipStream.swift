import CZlib
import DiskImportCore

/// Decompresses gzip data with zlib's `inflate`, member after member (pigz and `cat a.gz b.gz` write several); zlib
/// checks each member's CRC-32 and length trailer.
///
/// After the last member, trailing zero bytes (tape-style padding) are accepted and ignored as GNU gzip does; any other
/// trailing bytes are an error rather than silently dropped data. zlib, not libdeflate: this is a stream, and
/// libdeflate only decodes whole buffers (DESIGN.md section 8).
public final class GzipStream: ByteStream {
    private let upstream: ByteStream
    private var z = z_stream()
    private let input: UnsafeMutableRawBufferPointer
    private var upstreamEnded = false
    private var finished = false
    private var pendingError: DiskImportError?
    /// True between the first byte of a member and its trailer: running out of input there means truncation.
    private var insideMember = false
    /// Set once a zero byte stands where a member header should: from then on only zeros may follow.
    private var inTrailingZeros = false
    private var membersDone = 0

    public init(_ upstream: ByteStream, inputBufferSize: Int = 256 << 10) throws {
        self.upstream = upstream
        input = .allocate(byteCount: inputBufferSize, alignment: 64)
        // 15 + 16: a gzip header only (no zlib or raw deflate), window up to 32 KiB.
        let rc = czlib_inflate_init2(&z, 15 + 16)
        // Every property is set: throwing now runs deinit, which frees the buffer.
        guard rc == Z_OK else { throw DiskImportError(.io, "gzip: inflateInit2 failed (\(rc))") }
    }

    deinit {
        inflateEnd(&z)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let pendingError { throw pendingError }
        guard !finished, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        z.next_out = base.assumingMemoryBound(to: Bytef.self)
        z.avail_out = UInt32(clamping: buffer.count)
        let requested = Int(z.avail_out)
        do {
            try inflateInto()
        } catch let error as DiskImportError {
            let produced = requested - Int(z.avail_out)
            if produced > 0 {
                pendingError = error
                return produced
            }
            throw error
        }
        return requested - Int(z.avail_out)
    }

    private func inflateInto() throws {
        while z.avail_out > 0 {
            if z.avail_in == 0 && !upstreamEnded {
                let n = try upstream.read(into: input)
                if n == 0 {
                    upstreamEnded = true
                } else {
                    z.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    z.avail_in = UInt32(n)
                }
            }
            if z.avail_in == 0 && upstreamEnded {
                if insideMember {
                    throw DiskImportError.corrupt("gzip: the data ends in the middle of a member (truncated file)")
                }
                finished = true
                return
            }
            if !insideMember {
                if inTrailingZeros || z.next_in[0] == 0 {
                    try skipTrailingZeros()
                    continue
                }
                if membersDone > 0 && z.next_in[0] != 0x1f {
                    throw DiskImportError.corrupt("gzip: trailing garbage after the last member")
                }
                insideMember = true
            }
            let rc = inflate(&z, Z_NO_FLUSH)
            switch rc {
            case Z_OK:
                continue
            case Z_STREAM_END:
                // Another member may follow.
                insideMember = false
                membersDone += 1
                inflateReset(&z)
            case Z_BUF_ERROR where z.avail_in == 0:
                continue
            case Z_DATA_ERROR:
                let reason = z.msg.map { String(cString: $0) } ?? "invalid data"
                throw DiskImportError.corrupt("gzip: corrupt data (\(reason))")
            case Z_MEM_ERROR:
                throw DiskImportError(.io, "gzip: cannot allocate memory")
            default:
                let reason = z.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw DiskImportError.corrupt("gzip: \(reason)")
            }
        }
    }

    /// Consumes the zeros at the input position; anything else after the last member is garbage.
    private func skipTrailingZeros() throws {
        inTrailingZeros = true
        while z.avail_in > 0 {
            guard z.next_in[0] == 0 else {
                throw DiskImportError.corrupt("gzip: trailing garbage after the last member")
            }
            z.next_in += 1
            z.avail_in -= 1
        }
    }
}
