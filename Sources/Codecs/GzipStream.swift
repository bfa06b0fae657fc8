import DiskImportCore

/// Decompresses gzip data member after member (pigz and `cat a.gz b.gz` write several), each member's header,
/// deflate data and CRC-32/length trailer checked by its inflater: ISA-L by default, zlib when asked (GzipInflater).
///
/// After the last member, trailing zero bytes (tape-style padding) are accepted and ignored as GNU gzip does; any other
/// trailing bytes are an error rather than silently dropped data. A stream inflater, not libdeflate: libdeflate only
/// decodes whole buffers (DESIGN.md section 8).
public final class GzipStream: ByteStream {
    private let upstream: ByteStream
    private let inflater: GzipMemberInflater
    private let input: UnsafeMutableRawBufferPointer
    /// The bytes read from upstream and not yet consumed: input[inputStart..<inputEnd].
    private var inputStart = 0, inputEnd = 0
    private var upstreamEnded = false
    private var finished = false
    private var pendingError: DiskImportError?
    /// True between the first byte of a member and its trailer: running out of input there means truncation.
    private var insideMember = false
    /// Set once a zero byte stands where a member header should: from then on only zeros may follow.
    private var inTrailingZeros = false
    private var membersDone = 0

    public init(_ upstream: ByteStream, inflater: GzipInflater = .preferred, inputBufferSize: Int = 256 << 10) throws {
        self.upstream = upstream
        self.inflater = try inflater.makeMemberInflater()
        input = .allocate(byteCount: inputBufferSize, alignment: 64)
    }

    deinit { input.deallocate() }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let pendingError { throw pendingError }
        guard !finished, buffer.count > 0 else { return 0 }
        var produced = 0
        do {
            try inflate(into: buffer, produced: &produced)
        } catch let error as DiskImportError {
            // Bytes decoded before the fault are handed out first; the error comes with the next read.
            guard produced > 0 else { throw error }
            pendingError = error
        }
        return produced
    }

    private var available: Int { inputEnd - inputStart }

    private func inflate(into buffer: UnsafeMutableRawBufferPointer, produced: inout Int) throws {
        while produced < buffer.count && !finished {
            if available == 0 && !upstreamEnded { try readMore() }
            if !insideMember {
                try startMemberOrFinish()
                continue
            }
            let step = inflater.inflate(UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd]),
                                        into: UnsafeMutableRawBufferPointer(rebasing: buffer[produced...]))
            inputStart += step.consumed
            produced += step.produced
            if let failure = step.failure { throw failure }
            if step.memberEnded {
                insideMember = false
                membersDone += 1
            } else if step.consumed == 0 && step.produced == 0 {
                // The inflater needs more input than there is.
                if upstreamEnded {
                    throw DiskImportError.corrupt("gzip: the data ends in the middle of a member (truncated file)")
                }
                try readMore()
            }
        }
    }

    /// Between members: the next byte decides whether another member starts, zero padding goes on, or the stream
    /// is done.
    private func startMemberOrFinish() throws {
        guard available > 0 else {
            if upstreamEnded { finished = true }
            return
        }
        let first = input[inputStart]
        if inTrailingZeros || first == 0 {
            try skipTrailingZeros()
            return
        }
        if membersDone > 0 && first != 0x1f {
            throw DiskImportError.corrupt("gzip: trailing garbage after the last member")
        }
        insideMember = true
        inflater.startMember()
    }

    /// Reads upstream into the space after the unconsumed bytes (moved to the front first); marks the end of input
    /// when upstream has no more.
    private func readMore() throws {
        if inputStart > 0 {
            let kept = available
            if kept > 0 { input.baseAddress!.copyMemory(from: input.baseAddress! + inputStart, byteCount: kept) }
            inputStart = 0
            inputEnd = kept
        }
        guard inputEnd < input.count else {
            // Both inflaters buffer what they cannot use yet, so this is a defect, not a property of the data.
            throw DiskImportError(.io, "gzip: the inflater made no progress with \(inputEnd) bytes of input")
        }
        let n = try upstream.read(into: UnsafeMutableRawBufferPointer(rebasing: input[inputEnd...]))
        if n == 0 { upstreamEnded = true } else { inputEnd += n }
    }

    /// Consumes the zeros at the input position; anything else after the last member is garbage.
    private func skipTrailingZeros() throws {
        inTrailingZeros = true
        while inputStart < inputEnd {
            guard input[inputStart] == 0 else {
                throw DiskImportError.corrupt("gzip: trailing garbage after the last member")
            }
            inputStart += 1
        }
    }
}
