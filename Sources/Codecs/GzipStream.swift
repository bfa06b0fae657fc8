import CZlib
import DiskImportCore

/// Decompresses a gzip stream with zlib, member after member (pigz and `cat a.gz b.gz` write several).
public final class GzipStream: ByteStream {
    private let upstream: ByteStream
    private var z = z_stream()
    private let input: UnsafeMutableRawBufferPointer
    private var upstreamEnded = false
    private var finished = false

    public init(_ upstream: ByteStream, inputBufferSize: Int = 256 << 10) throws {
        self.upstream = upstream
        input = .allocate(byteCount: inputBufferSize, alignment: 64)
        // 15 + 32: a zlib or gzip header, detected automatically.
        let rc = czlib_inflate_init2(&z, 15 + 32)
        guard rc == Z_OK else {
            input.deallocate()
            throw DiskImportError(.io, "gzip: inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(&z)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished, buffer.count > 0 else { return 0 }
        z.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        z.avail_out = UInt32(clamping: buffer.count)
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
                    throw DiskImportError.corrupt("gzip: the stream ends in the middle of the data (truncated file)")
                }
                finished = true
                break
            }
            insideMember = true
            let rc = inflate(&z, Z_NO_FLUSH)
            switch rc {
            case Z_OK:
                continue
            case Z_STREAM_END:
                // Another member may follow.
                insideMember = false
                inflateReset(&z)
            case Z_BUF_ERROR where z.avail_in == 0:
                continue
            default:
                let reason = z.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw DiskImportError.corrupt("gzip: \(reason)")
            }
        }
        return buffer.count - Int(z.avail_out)
    }

    /// True between the first byte of a member and its end: running out of input there means truncation.
    private var insideMember = false
}
