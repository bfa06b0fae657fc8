import DiskImportCore

/// A VHDX image read front to back (inside a wrapper, over HTTP, from a pipe).
///
/// The header section (the first MiB) comes first; the region table in it places the metadata and the BAT, which
/// the reader buffers as the stream reaches them. qemu-img puts both right after the log and before every data
/// block (vhdx_create_new_metadata / vhdx_create_bat, block/vhdx.c), so its images stream with no scratch: each
/// present block is then read where it lies, in file order, and written at its guest offset. Bytes passed on the way
/// to a region (other than the log) go to scratch when a directory was given, so a block placed before its table
/// can still be read; without one, such a block is a "scratch space required" error.
final class VhdxStreamReader: DiskImageReader {
    private let cursor: VhdxStreamCursor
    let layout: VhdxLayout

    var virtualSize: UInt64? { layout.virtualSize }
    var scratchBytes: UInt64 { cursor.scratch?.bytesWritten ?? 0 }

    /// Bytes per read of block data.
    static let pieceSize = 8 << 20
    /// The most metadata region bytes buffered (qemu writes 1 MiB; its items are a few bytes each).
    static let maxMetadataBytes: UInt64 = 8 << 20

    /// Reads the stream up to the end of its metadata and BAT regions and parses them.
    init(stream: ByteStream, length: UInt64?, name: String, scratchDirectory: String?) throws {
        let cursor = VhdxStreamCursor(stream: stream, name: name, scratch: try scratchDirectory.map(VhdxStreamScratch.init(directory:)))
        let head = try cursor.read(Int(VhdxHeaderSection.size))
        let view = VhdxBufferedView(name: name, segments: [(0, head)],
                                    length: head.count < Int(VhdxHeaderSection.size) ? UInt64(head.count) : length)
        layout = try VhdxLayout.parse(header: view) { header, regions in
            try Self.buffer(regions, header: header, from: cursor, adding: view)
        }
        self.cursor = cursor
    }

    /// `view` with the log (when the header names one), the metadata and the BAT read from the stream, in file order
    /// (at most what the parser reads of each: `VhdxLog.maxBytes`, `maxMetadataBytes`, `VhdxBlockTable.maxBytes`).
    private static func buffer(_ regions: VhdxRegionTable, header: VhdxHeader, from cursor: VhdxStreamCursor,
                               adding view: VhdxFileView) throws -> VhdxFileView {
        guard var buffered = view as? VhdxBufferedView else { return view }
        var wanted = [(regions.metadata, "metadata region", maxMetadataBytes), (regions.bat, "BAT region", VhdxBlockTable.maxBytes)]
        if header.hasLog { wanted.append((header.logRange, "log", UInt64(VhdxLog.maxBytes))) }
        let log = header.hasLog ? nil : header.logRange
        for (range, what, most) in wanted.sorted(by: { $0.0.lowerBound < $1.0.lowerBound }) {
            guard range.lowerBound >= cursor.position else {
                throw DiskImportError.corrupt("\(cursor.name): vhdx: the \(what) (\(vhdxHex(range.lowerBound))) lies inside the 1 MiB header section")
            }
            try cursor.pass(to: range.lowerBound, discarding: log)
            let count = Int(min(UInt64(range.count), most))
            var bytes = [UInt8](repeating: 0, count: count)
            try bytes.withUnsafeMutableBytes { try cursor.readExactly(into: $0, what: "the \(what) (\(vhdxHex(range.lowerBound)), \(range.count) bytes)") }
            buffered.segments.append((range.lowerBound, bytes))
            try cursor.skip(to: range.upperBound)
        }
        return buffered
    }

    func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let table = layout.table
        for run in VhdxRuns(table: table) where run.kind == .zeros {
            try sink.writeZeros(at: run.guest.lowerBound, length: UInt64(run.guest.count))
            progress.addGuestBytes(UInt64(run.guest.count))
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.pieceSize, alignment: 4096)
        defer { buffer.deallocate() }
        let blockSize = UInt64(table.metadata.blockSize)
        for (fileOffset, block) in table.storedBlocks() {
            let length = table.guestLength(ofBlock: block)
            let guest = block * blockSize
            if fileOffset < cursor.position {
                try copyKept(fileOffset..<fileOffset + length, block: block, to: sink, at: guest, buffer: buffer)
            } else {
                try cursor.skip(to: fileOffset)
                var done: UInt64 = 0
                while done < length {
                    let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(UInt64(buffer.count), length - done))])
                    try cursor.readExactly(into: piece, what: "block \(block) (at \(vhdxHex(fileOffset)))")
                    try sink.write(UnsafeRawBufferPointer(piece), at: guest + done)
                    done += UInt64(piece.count)
                }
            }
            progress.addGuestBytes(length)
        }
        try cursor.drain()
        return layout.virtualSize
    }

    /// A block the stream passed before the BAT was read: from scratch, or a "scratch space required" error.
    private func copyKept(_ range: Range<UInt64>, block: UInt64, to sink: ExtentSink, at guest: UInt64,
                          buffer: UnsafeMutableRawBufferPointer) throws {
        guard let scratch = cursor.scratch, let start = scratch.scratchOffset(of: range) else {
            throw DiskImportError(.scratchRequired, "scratch space required: \(cursor.name): the vhdx block \(block) at file offset \(vhdxHex(range.lowerBound)) comes before the BAT that maps it in the stream; give a scratch directory (--scratch DIR)")
        }
        var done: UInt64 = 0
        while done < UInt64(range.count) {
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(UInt64(buffer.count), UInt64(range.count) - done))])
            try scratch.read(at: start + done, into: piece)
            try sink.write(UnsafeRawBufferPointer(piece), at: guest + done)
            done += UInt64(piece.count)
        }
    }
}
