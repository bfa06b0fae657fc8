import DiskImportCore

/// An image read front to back whose tables say where its data lies (a dynamic vhd's BAT, a vdi's block map):
/// the reader asks for each table at its offset (`read(_:what:)`), then hands over every data piece sorted by file
/// offset (`place`), and each piece goes to its guest offset as the stream passes it.
///
/// The layouts qemu-img writes put the tables first, so nothing is kept. Bytes the stream passes on the way to a
/// table are kept in a `StreamSpool` (memory, then scratch with a scratch directory), so a table or data piece that
/// lies before a later table is still found; one that was passed without being kept fails with "scratch space
/// required".
final class OrderedStream {
    /// A data piece: `length` bytes at image offset `host` go to guest offset `guest`.
    struct Piece: Sendable {
        var host: UInt64
        var guest: UInt64
        var length: UInt64
    }

    private let stream: ByteStream
    private let name: String
    private let format: String
    private let spool: StreamSpool
    /// What `skip` reads passed bytes into.
    private let skipBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: OrderedStream.chunkBytes, alignment: 16)
    /// The image offset of the stream's next byte.
    private(set) var position: UInt64 = 0
    static let chunkBytes = 1 << 20

    /// `format` names the image in messages ("vpc").
    init(_ stream: ByteStream, name: String, format: String, scratchDirectory: String?) {
        self.stream = stream
        self.name = name
        self.format = format
        spool = StreamSpool(directory: scratchDirectory)
    }

    deinit { skipBuffer.deallocate() }

    var scratchBytes: UInt64 { spool.scratchBytes }

    /// The `count` bytes of `what` (a table) at image offset `offset`.
    func read(at offset: UInt64, count: Int, what: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { buffer in
            try fill(buffer, from: offset, what: what, keepingSkipped: true)
        }
        return bytes
    }

    /// Writes each piece (sorted by `host`, not overlapping) to its guest offset in `sink`, then reads the stream to
    /// its end (so that a checksum or a layer digest sees every byte, and `position` is the image's length).
    func place(_ pieces: [Piece], into sink: ExtentSink, progress: TransferProgress, what: (Piece) -> String) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkBytes, alignment: 4096)
        defer { buffer.deallocate() }
        for piece in pieces {
            var done: UInt64 = 0
            while done < piece.length {
                let count = Int(min(UInt64(buffer.count), piece.length - done))
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[..<count])
                try fill(chunk, from: piece.host + done, what: what(piece), keepingSkipped: false)
                try sink.write(UnsafeRawBufferPointer(chunk), at: piece.guest + done)
                progress.addGuestBytes(UInt64(count))
                done += UInt64(count)
            }
        }
        while case let skipped = try stream.skip(UInt64(buffer.count), scratch: buffer), skipped > 0 { position += skipped }
    }

    /// Fills `buffer` with the image bytes at `offset`: those the stream passed already from the spool, the rest from
    /// the stream, skipping up to them (kept in the spool while tables are still to come).
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, from offset: UInt64, what: String, keepingSkipped: Bool) throws {
        let (end, overflows) = offset.addingReportingOverflow(UInt64(buffer.count))
        if overflows {
            throw DiskImportError.corrupt("\(name): \(format): the \(what) at offset 0x\(String(offset, radix: 16)) ends past 2^64 bytes")
        }
        if offset < position {
            let passed = offset..<min(end, position)
            guard try spool.read(passed, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<passed.count])) else {
                throw DiskImportError(.scratchRequired, "scratch space required: \(name): the \(format) \(what) at offset 0x\(String(offset, radix: 16)) comes before a table that maps it in the stream; give a scratch directory (--scratch DIR)")
            }
            if end <= position { return }
        }
        if offset > position { try skip(to: offset, keeping: keepingSkipped, what: what) }
        let start = Int(max(offset, position) - offset)
        let got = try stream.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
        position += UInt64(got)
        if got < buffer.count - start {
            throw DiskImportError.corrupt("\(name): \(format): the \(what) at offset 0x\(String(offset, radix: 16)) (\(buffer.count) bytes) lies past the end of the image (\(position) bytes): the image is truncated")
        }
    }

    private func skip(to offset: UInt64, keeping: Bool, what: String) throws {
        let chunk = skipBuffer
        while position < offset {
            let count = Int(min(UInt64(chunk.count), offset - position))
            let got = try stream.readFully(into: UnsafeMutableRawBufferPointer(rebasing: chunk[..<count]))
            if keeping { try spool.keep(UnsafeRawBufferPointer(rebasing: chunk[..<got]), at: position) }
            position += UInt64(got)
            if got < count {
                throw DiskImportError.corrupt("\(name): \(format): the \(what) at offset 0x\(String(offset, radix: 16)) lies past the end of the image (\(position) bytes): the image is truncated")
            }
        }
    }
}
