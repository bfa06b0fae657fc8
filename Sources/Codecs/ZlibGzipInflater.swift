import CZlib
import DiskImportCore

/// Inflates gzip members with zlib's `inflate` (window bits 15 + 16: a gzip header only), which reads the header
/// itself and checks the trailer's CRC-32 and length. The z_stream lives on the heap: zlib keeps a pointer back to
/// it and refuses a stream that has moved.
final class ZlibGzipInflater: GzipMemberInflater {
    private let z: UnsafeMutablePointer<z_stream>

    init() throws {
        z = .allocate(capacity: 1)
        z.initialize(to: z_stream())
        let rc = czlib_inflate_init2(z, 15 + 16)
        guard rc == Z_OK else {
            z.deallocate()
            throw DiskImportError(.io, "gzip: inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(z)
        z.deallocate()
    }

    func startMember() {
        inflateReset(z)
    }

    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> GzipInflateStep {
        let inCount = UInt32(clamping: input.count), outCount = UInt32(clamping: output.count)
        z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = inCount
        z.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        z.pointee.avail_out = outCount
        let rc = CZlib.inflate(z, Z_NO_FLUSH)
        var step = GzipInflateStep(consumed: Int(inCount - z.pointee.avail_in), produced: Int(outCount - z.pointee.avail_out))
        switch rc {
        case Z_OK, Z_BUF_ERROR:  // Z_BUF_ERROR: no progress possible with this input, not an error
            break
        case Z_STREAM_END:
            step.memberEnded = true
        case Z_MEM_ERROR:
            step.failure = DiskImportError(.io, "gzip: cannot allocate memory")
        case Z_DATA_ERROR:
            step.failure = .gzipCorrupt(z.pointee.msg.map { String(cString: $0) } ?? "invalid data")
        default:
            step.failure = DiskImportError.corrupt("gzip: " + (z.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"))
        }
        return step
    }
}
