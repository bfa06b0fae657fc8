import CZlib
import DiskImportCore
#if canImport(Glibc)
import Glibc
#endif

/// Reads one gzip member header (RFC 1952 section 2.3) as it arrives, in pieces of any size, and checks what zlib's
/// inflate checks (zlib 1.2.13 inflate.c, states HEAD to HCRC): the magic, method 8, no reserved flag bit, and the
/// header CRC when FHCRC is set. FEXTRA, FNAME and FCOMMENT are skipped whatever their length. The messages are
/// zlib's own, so a bad header reads the same whichever inflater decodes the member.
struct GzipHeaderParser {
    private enum Field { case base, extraLength, extra, name, comment, headerCRC, done }

    private static let (fextra, fname, fcomment, fhcrc): (UInt8, UInt8, UInt8, UInt8) = (0x04, 0x08, 0x10, 0x02)
    private static let reservedFlags: UInt8 = 0xe0
    private static let baseLength = 10

    private var field = Field.base
    private var flags: UInt8 = 0
    /// The bytes of the fixed-size field being read (the 10-byte base, XLEN, CRC16), as they arrive.
    private var fixedBytes: [UInt8] = []
    private var extraRemaining = 0
    /// CRC-32 of every header byte before the CRC16 field (zlib's `crc32`).
    private var crc: UInt = 0

    var isComplete: Bool { field == .done }

    /// Consumes header bytes from the front of `input`: all of them unless the header ends inside. Throws
    /// `.corrupt` for a header zlib would refuse.
    mutating func consume(_ input: UnsafeRawBufferPointer) throws -> Int {
        var at = 0
        while at < input.count && field != .done {
            let start = at, reading = field
            switch field {
            case .base:
                at += collect(input, from: at, upTo: Self.baseLength)
                try checkBase()
                if fixedBytes.count == Self.baseLength { advance(past: .base) }
            case .extraLength:
                at += collect(input, from: at, upTo: 2)
                if fixedBytes.count == 2 {
                    extraRemaining = Int(fixedBytes[0]) | Int(fixedBytes[1]) << 8
                    advance(past: .extraLength)
                }
            case .extra:
                let n = min(extraRemaining, input.count - at)
                at += n
                extraRemaining -= n
                if extraRemaining == 0 { advance(past: .extra) }
            case .name, .comment:
                // Zero-terminated; memchr finds the end of a long name in one pass.
                let rest = input.baseAddress! + at, count = input.count - at
                if let zero = memchr(rest, 0, count) {
                    at += rest.distance(to: UnsafeRawPointer(zero)) + 1
                    advance(past: field)
                } else {
                    at = input.count
                }
            case .headerCRC:
                at += collect(input, from: at, upTo: 2)
                if fixedBytes.count == 2 {
                    guard UInt(fixedBytes[0]) | UInt(fixedBytes[1]) << 8 == crc & 0xffff else {
                        throw DiskImportError.gzipCorrupt("header crc mismatch")
                    }
                    advance(past: .headerCRC)
                }
            case .done:
                break
            }
            if reading != .headerCRC {
                crc = crc32(crc, (input.baseAddress! + start).assumingMemoryBound(to: Bytef.self), UInt32(at - start))
            }
        }
        return at
    }

    /// Appends bytes of a fixed-size field until it holds `length`; returns how many it took.
    private mutating func collect(_ input: UnsafeRawBufferPointer, from at: Int, upTo length: Int) -> Int {
        let n = min(length - fixedBytes.count, input.count - at)
        fixedBytes += input[at..<(at + n)]
        return n
    }

    /// zlib's checks, each as soon as its bytes are in: the magic (2 bytes), then method and flags (4).
    private mutating func checkBase() throws {
        if fixedBytes.count >= 2 && (fixedBytes[0] != 0x1f || fixedBytes[1] != 0x8b) {
            throw DiskImportError.gzipCorrupt("incorrect header check")
        }
        if fixedBytes.count >= 4 {
            if fixedBytes[2] != 8 { throw DiskImportError.gzipCorrupt("unknown compression method") }
            if fixedBytes[3] & Self.reservedFlags != 0 { throw DiskImportError.gzipCorrupt("unknown header flags set") }
            flags = fixedBytes[3]
        }
    }

    /// Moves to the next field the flags ask for, in RFC 1952's order.
    private mutating func advance(past done: Field) {
        fixedBytes.removeAll(keepingCapacity: true)
        let order: [(Field, Bool)] = [
            (.extraLength, flags & Self.fextra != 0), (.extra, extraRemaining > 0), (.name, flags & Self.fname != 0),
            (.comment, flags & Self.fcomment != 0), (.headerCRC, flags & Self.fhcrc != 0), (.done, true),
        ]
        let from = done == .base ? 0 : order.firstIndex { $0.0 == done }! + 1
        field = order[from...].first { $0.1 }!.0
    }
}
