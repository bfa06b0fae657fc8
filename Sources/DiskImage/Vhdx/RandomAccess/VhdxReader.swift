import DiskImportCore

/// A VHDX image read with random access: a local file, whose present blocks go to the sink as local copies (shared
/// or copied in the kernel), or ranged reads (HTTP), read in pieces. Zero, unmapped and absent blocks become zero
/// ranges that cost nothing (qemu's vhdx_co_readv reads them as zeros).
final class VhdxReader: DiskImageReader {
    private let source: RandomAccessSource
    let layout: VhdxLayout
    var virtualSize: UInt64? { layout.virtualSize }

    /// Bytes per read from a source that is not a local file (and per kernel copy of a local one).
    static let pieceSize = 8 << 20

    init(source: RandomAccessSource) throws {
        self.source = source
        layout = try VhdxLayout.parse(VhdxSourceView(source: source))
    }

    func allocatedData() throws -> AllocatedData? {
        let table = layout.table
        let bytes = table.storedBlocks().reduce(UInt64(0)) { $0 + table.guestLength(ofBlock: $1.block) }
        return AllocatedData(bytes: bytes, sourceFile: source.localFile)
    }

    func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let buffer = source.localFile == nil ? UnsafeMutableRawBufferPointer.allocate(byteCount: Self.pieceSize, alignment: 4096) : nil
        defer { buffer?.deallocate() }
        for run in VhdxRuns(table: layout.table) {
            switch run.kind {
            case .zeros:
                try sink.writeZeros(at: run.guest.lowerBound, length: UInt64(run.guest.count))
            case .data(let fileOffset):
                try copy(run.guest, from: fileOffset, to: sink, buffer: buffer)
            }
            progress.addGuestBytes(UInt64(run.guest.count))
        }
        return layout.virtualSize
    }

    private func copy(_ guest: Range<UInt64>, from fileOffset: UInt64, to sink: ExtentSink,
                      buffer: UnsafeMutableRawBufferPointer?) throws {
        var done: UInt64 = 0
        while done < UInt64(guest.count) {
            let count = min(UInt64(Self.pieceSize), UInt64(guest.count) - done)
            if let file = source.localFile {
                try sink.copy(from: file, sourceOffset: fileOffset + done, to: guest.lowerBound + done, length: count)
            } else if let buffer {
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(count)])
                try source.readExactly(at: fileOffset + done, into: piece, what: "vhdx block data")
                try sink.write(UnsafeRawBufferPointer(piece), at: guest.lowerBound + done)
            }
            done += count
        }
    }
}

/// The guest disk as runs: zeros, or data that lies contiguously in the file. Adjacent blocks merge, so a fixed
/// image or one `qemu-img convert` wrote in order is a handful of copies.
struct VhdxRuns: Sequence, IteratorProtocol {
    enum Kind: Equatable {
        case zeros
        case data(fileOffset: UInt64)
    }

    struct Run {
        var guest: Range<UInt64>
        var kind: Kind
    }

    private let table: VhdxBlockTable
    private var block: UInt64 = 0

    init(table: VhdxBlockTable) { self.table = table }

    mutating func next() -> Run? {
        let blocks = table.blockCount
        guard block < blocks else { return nil }
        let blockSize = UInt64(table.metadata.blockSize)
        let start = block * blockSize
        var run = Run(guest: start..<start + table.guestLength(ofBlock: block), kind: Self.kind(table.state(ofBlock: block)))
        block += 1
        while block < blocks {
            let kind = Self.kind(table.state(ofBlock: block))
            switch (run.kind, kind) {
            case (.zeros, .zeros): break
            case (.data(let first), .data(let next)) where next == first + UInt64(run.guest.count): break
            default: return run
            }
            run.guest = run.guest.lowerBound..<run.guest.upperBound + table.guestLength(ofBlock: block)
            block += 1
        }
        return run
    }

    private static func kind(_ state: VhdxBlockState) -> Kind {
        switch state {
        case .zero: return .zeros
        case .present(let offset), .partial(let offset): return .data(fileOffset: offset)
        }
    }
}
