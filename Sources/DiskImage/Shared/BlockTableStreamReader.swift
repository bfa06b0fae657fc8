import DiskImportCore

/// Converts an image whose guest blocks a `BlockTable` maps (a vdi, a dynamic vhd) front to back: the format's
/// `readTable` reads its header and table through the `OrderedStream` at their offsets, then every mapped block goes
/// to its guest offset as the stream passes it, and the unmapped ones are written as zeros. The layouts qemu-img
/// and VirtualBox write put the table before the data, so nothing goes to scratch.
final class BlockTableStreamReader: DiskImageReader {
    let virtualSize: UInt64?
    private(set) var scratchBytes: UInt64 = 0

    private let stream: ByteStream
    private let length: UInt64?
    private let options: ReaderOptions
    private let format: String
    private let readTable: (OrderedStream) throws -> BlockTable

    /// `format` names the image in messages ("vdi"); `length` is the image's length when the layer under it knows it.
    init(stream: ByteStream, length: UInt64?, virtualSize: UInt64, format: String, options: ReaderOptions,
         readTable: @escaping (OrderedStream) throws -> BlockTable) {
        self.stream = stream
        self.length = length
        self.virtualSize = virtualSize
        self.format = format
        self.options = options
        self.readTable = readTable
    }

    func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let ordered = OrderedStream(stream, name: options.name, format: format, scratchDirectory: options.scratchDirectory)
        defer { scratchBytes = ordered.scratchBytes }
        let table = try readTable(ordered)
        try table.check(fileLength: length, name: options.name, format: format)
        try writeUnmappedZeros(table, to: sink, progress: progress)
        try ordered.place(table.piecesByHost(), into: sink, progress: progress) { "block at guest offset \($0.guest)" }
        // Under a wrapper the length is known only now; a truncated image fails here as it does with random access.
        if length == nil { try table.check(fileLength: ordered.position, name: options.name, format: format) }
        return table.virtualSize
    }

    /// The unmapped blocks, as runs of zeros in guest order.
    private func writeUnmappedZeros(_ table: BlockTable, to sink: ExtentSink, progress: TransferProgress) throws {
        var run: Range<UInt64>?
        func flush() throws {
            guard let zeros = run else { return }
            try sink.writeZeros(at: zeros.lowerBound, length: UInt64(zeros.count))
            progress.addGuestBytes(UInt64(zeros.count))
            run = nil
        }
        for index in table.entries.indices where table.host(ofBlock: index) == nil {
            let start = UInt64(index) * table.blockSize
            let end = start + table.guestLength(ofBlock: index)
            if let current = run, current.upperBound == start { run = current.lowerBound..<end } else { try flush(); run = start..<end }
        }
        try flush()
    }
}
