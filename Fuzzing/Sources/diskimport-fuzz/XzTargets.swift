import Codecs
import DiskImage
import DiskImportCore

/// The .xz container walked by our own XzBlockSplitter (stream header, block headers, index, footer, padding,
/// concatenated streams), its blocks decoded apart by XzBlockDecoder or in place; the index read from the end with
/// random access (XzIndex); and the head decoded for sniffing (XzHead).
enum XzContainerTarget {
    static func run(_ bytes: [UInt8]) {
        let seed = inputHash(bytes)
        _ = try? XzIndex.uncompressedSize(of: MemorySource(bytes))
        _ = XzHead.decoded(from: bytes, count: 4096)
        _ = try? XzHead.decoded(peeking: PeekableStream(ChunkedStream(bytes, seed: seed, announceLength: false)), count: 1024)
        split(bytes, seed: seed)
    }

    /// Every block either read whole and decoded apart (as the parallel workers do) or decoded here, as the seed says.
    private static func split(_ bytes: [UInt8], seed: UInt64) {
        let splitter = XzBlockSplitter(ChunkedStream(bytes, seed: seed >> 1, announceLength: false), memoryLimit: 64 << 20)
        let decoder = XzBlockDecoder(chunkSize: 64 << 10)
        var choices = SplitMix(seed: seed)
        var decoded: UInt64 = 0
        let emit = { (chunk: UnsafeRawBufferPointer) throws in
            decoded += UInt64(chunk.count)
            if decoded > CheckingSink.cap { throw CheckingSink.CapReached() }
        }
        do {
            while let block = try splitter.nextBlock() {
                if let size = block.dataSize, size <= 1 << 20, block.uncompressedSize != nil, choices.next() & 1 == 0 {
                    let data = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(size), alignment: 16)
                    defer { data.deallocate() }
                    try splitter.readData(of: block, into: data)
                    try decoder.decodeWhole(block, from: UnsafeRawBufferPointer(data), emit: emit)
                } else {
                    try splitter.decodeHere(block, with: decoder, emit: emit)
                }
            }
        } catch {}
    }
}

/// A disk image inside .xz read the way the importer reads one: its head decoded and sniffed, then the format's
/// block-parallel reader (qcow2, raw) when it offers one, else the streaming reader over XzStream.
enum XzImageTarget {
    static func run(_ bytes: [UInt8]) {
        let seed = inputHash(bytes)
        let options = ReaderOptions(name: "fuzz-input", scratchDirectory: seed & 1 == 0 ? ScratchDirectory.path : nil,
                                    followBacking: false, decodedLimit: CheckingSink.cap, inside: " inside xz")
        let xz = PeekableStream(ChunkedStream(bytes, seed: seed >> 1, announceLength: false))
        guard let head = try? XzHead.decoded(peeking: xz, count: FormatSniffer.headLength) else { return }
        guard case .image(let format) = FormatSniffer.detect(head: head) else { return }
        let reader: DiskImageReader?
        if format.reading.capabilities.contains(.xzBlocks) {
            reader = try? format.reading.xzBlockReader(xz, decodedHead: head, options: options)
        } else {
            reader = (try? XzStream(xz, threads: 1, memoryLimit: 64 << 20)).flatMap {
                try? format.reading.streamingReader(PeekableStream($0), length: nil, options: options)
            }
        }
        _ = try? reader?.convert(to: CheckingSink(), progress: TransferProgress())
    }
}
