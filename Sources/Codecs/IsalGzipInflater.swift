import CIsal
import DiskImportCore

/// Inflates gzip members with ISA-L's igzip (`isal_inflate`). The header is read by GzipHeaderParser, not by
/// `isal_inflate` in ISAL_GZIP mode: that one starts a fresh `isal_gzip_header` on every call, so a header split
/// across reads loses its flags, and it ignores the reserved flag bits zlib refuses (isa-l igzip/igzip_inflate.c).
/// The deflate data and the trailer go through ISAL_GZIP_NO_HDR_VER, which checks the trailer's CRC-32 and ISIZE
/// (the length modulo 2^32) as zlib does, and on ISAL_BLOCK_FINISH leaves the input just past the trailer, where the
/// next member starts (igzip's own multi-member loop relies on the same, programs/igzip_cli.c).
final class IsalGzipInflater: GzipMemberInflater {
    private let state: UnsafeMutablePointer<inflate_state>
    private var header = GzipHeaderParser()
    /// This member's decoded length so far, to tell a bad CRC from a bad length in the error.
    private var memberLength: UInt64 = 0

    init() {
        // About 70 KiB (ISA-L's history buffer is inside): zeroed in place, never built on the stack.
        state = .allocate(capacity: 1)
        UnsafeMutableRawPointer(state).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<inflate_state>.size)
        isal_inflate_init(state)
        state.pointee.crc_flag = UInt32(ISAL_GZIP_NO_HDR_VER)
    }

    deinit { state.deallocate() }

    func startMember() {
        header = GzipHeaderParser()
        isal_inflate_reset(state)  // keeps crc_flag
        memberLength = 0
    }

    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> GzipInflateStep {
        var step = GzipInflateStep()
        if !header.isComplete {
            do {
                step.consumed = try header.consume(input)
            } catch let error as DiskImportError {
                step.failure = error
                return step
            } catch {
                preconditionFailure("GzipHeaderParser throws DiskImportError only")
            }
            if !header.isComplete { return step }
        }
        let body = UnsafeRawBufferPointer(rebasing: input[step.consumed...])
        let outCount = UInt32(clamping: output.count)
        state.pointee.next_in = UnsafeMutablePointer(mutating: body.baseAddress?.assumingMemoryBound(to: UInt8.self))
        state.pointee.avail_in = UInt32(clamping: body.count)
        state.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        state.pointee.avail_out = outCount
        let rc = isal_inflate(state)
        let bodyConsumed = body.count - Int(state.pointee.avail_in)
        step.consumed += bodyConsumed
        step.produced = Int(outCount - state.pointee.avail_out)
        memberLength += UInt64(step.produced)
        if rc < 0 {
            step.failure = failure(rc, trailerEndingAt: bodyConsumed >= 8 ? body.baseAddress! + bodyConsumed : nil)
        } else {
            step.memberEnded = state.pointee.block_state == ISAL_BLOCK_FINISH
        }
        return step
    }

    /// zlib's words for the same faults. For a trailer mismatch `trailerEnd` points just past the 8 trailer bytes
    /// when this call read them: a CRC that matches there means the length is what is wrong.
    private func failure(_ rc: Int32, trailerEndingAt trailerEnd: UnsafeRawPointer?) -> DiskImportError {
        switch rc {
        case ISAL_INCORRECT_CHECKSUM:
            if let trailerEnd, trailerEnd.loadUnaligned(fromByteOffset: -8, as: UInt32.self).littleEndian == state.pointee.crc,
               trailerEnd.loadUnaligned(fromByteOffset: -4, as: UInt32.self).littleEndian != UInt32(truncatingIfNeeded: memberLength) {
                return .gzipCorrupt("incorrect length check")
            }
            return .gzipCorrupt("incorrect data check")
        case ISAL_INVALID_LOOKBACK:
            return .gzipCorrupt("invalid distance too far back")
        case ISAL_INVALID_SYMBOL:
            return .gzipCorrupt("invalid code")
        case ISAL_INVALID_BLOCK:
            return .gzipCorrupt("invalid block")
        default:
            return .gzipCorrupt("ISA-L error \(rc)")
        }
    }
}
