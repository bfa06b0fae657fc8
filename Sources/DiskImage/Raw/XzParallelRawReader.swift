import Codecs
import DiskImportCore

/// A raw image inside .xz, decoded on all cores straight into the target.
///
/// Order does not matter for a raw image, and the block headers `xz -T N` writes carry both sizes, so each block's
/// guest offset is known before it is decoded: this thread walks the container (`XzBlockSplitter`), reads each
/// block's compressed bytes into a pooled buffer, and a worker decodes it (`XzBlockDecoder`) and writes its output
/// at that offset, 1 MiB at a time. Memory per worker is the LZMA2 dictionary and a chunk, not a decoded block
/// (liblzma's threaded decoder must hold decoded blocks until they are read in order); the writes happen on the
/// workers, not on one consumer. A block without sizes (`xz -T1`), or too big to buffer, is decoded here, streaming,
/// once the workers are idle: always correct, single-threaded.
///
/// The decoded size is bounded (`tighten`): a block is refused before it is written when it would end past the limit.
public final class XzParallelRawReader: DiskImageReader, DecodedSizeLimit {
    public let virtualSize: UInt64? = nil
    private let stream: ByteStream
    private let threads: Int
    private let memoryLimit: UInt64
    private let memory: MemoryBudget
    private var limit: UInt64
    private var limitReason: String?
    /// The wrappers around the image, for the message: " inside xz".
    private let inside: String
    /// Whether the last sector is sniffed at the end (a DMG refused); false under `-f raw`.
    private let sniffsTrailer: Bool

    /// - Parameters:
    ///   - stream: the .xz data (its stream header next).
    ///   - limit: the most decoded bytes accepted (`reason` says why, for the message).
    ///   - memoryLimit: a block needing a larger decoder is refused with a `.limit` error, as XzStream does.
    ///   - inside: the wrappers around the image, for a refusal's message (" inside xz").
    public init(stream: ByteStream, threads: Int? = nil, limit: UInt64 = .max, reason: String? = nil,
                inside: String = " inside xz", sniffsTrailer: Bool = true, memoryLimit: UInt64 = XzStream.defaultMemoryLimit,
                memory: MemoryBudget = MemoryBudget()) {
        self.memory = memory
        self.stream = stream
        self.sniffsTrailer = sniffsTrailer
        self.inside = inside
        self.threads = max(1, threads ?? XzBlockParallelism.defaultThreadCount)
        self.limit = limit
        limitReason = reason
        self.memoryLimit = memoryLimit
    }

    public var decodedSizeLimit: (any DecodedSizeLimit)? { self }

    public func tighten(to newLimit: UInt64, reason: String?) {
        if newLimit < limit {
            limit = newLimit
            limitReason = reason
        }
    }

    public func convert(to sink: ExtentSink, progress: TransferProgress) throws -> UInt64 {
        let share = XzBlockShare(budget: memory)
        let splitter = XzBlockSplitter(stream, memoryLimit: memoryLimit)
        let trailer = TrailerWindow()
        var workers: XzBlockWorkers?
        var localDecoder: XzBlockDecoder?
        do {
            while let block = try splitter.nextBlock() {
                if share.admits(block, threads: threads, chunkSize: XzBlockParallelism.chunkSize), let uncompressed = block.uncompressedSize {
                    try admit(end: block.decodedOffset.addingReportingOverflow(uncompressed))
                    let pool = try workers ?? XzBlockWorkers(
                        threads: share.threads, bufferBudget: share.bufferBytes, chunkSize: XzBlockParallelism.chunkSize) {
                        XzRawBlockWriter(sink: sink, progress: progress, trailer: trailer)
                    }
                    workers = pool
                    try pool.submit(block, from: splitter)
                } else {
                    // Its memory (a dictionary here, maybe a large one) comes after the workers' buffers, not on top.
                    workers?.drain()
                    if let uncompressed = block.uncompressedSize {
                        try admit(end: block.decodedOffset.addingReportingOverflow(uncompressed))
                    }
                    let decoder = localDecoder ?? XzBlockDecoder(chunkSize: XzBlockParallelism.chunkSize)
                    localDecoder = decoder
                    var offset = block.decodedOffset
                    try splitter.decodeHere(block, with: decoder) { bytes in
                        let end = offset.addingReportingOverflow(UInt64(bytes.count))
                        try admit(end: end)
                        try sink.write(bytes, at: offset)
                        trailer.offer(bytes, at: offset)
                        progress.addGuestBytes(UInt64(bytes.count))
                        offset = end.partialValue
                    }
                }
            }
            try workers?.finish()
            if sniffsTrailer { try FormatSniffer.refuse(trailer: trailer.trailer(endingAt: splitter.decodedSize), inside: inside) }
            return try RawFormat.pad(sink, from: splitter.decodedSize, progress: progress)
        } catch {
            workers?.abort()
            throw error
        }
    }

    /// Refuses decoded data ending at `end` past the limit, before any of it is written.
    private func admit(end: (partialValue: UInt64, overflow: Bool)) throws {
        if end.overflow || end.partialValue > limit {
            throw DiskImportError(.limit, "decompressed data exceeds \(limit) bytes" + (limitReason.map { " (\($0))" } ?? ""))
        }
    }
}

/// A raw image's block output goes straight to its offset in the target.
final class XzRawBlockWriter: XzBlockConsumer {
    private let sink: ExtentSink
    private let progress: TransferProgress
    private let trailer: TrailerWindow

    init(sink: ExtentSink, progress: TransferProgress, trailer: TrailerWindow) {
        self.sink = sink
        self.progress = progress
        self.trailer = trailer
    }

    func begin(_ block: XzBlock) {}

    func consume(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try sink.write(bytes, at: offset)
        trailer.offer(bytes, at: offset)
        progress.addGuestBytes(UInt64(bytes.count))
    }

    func end(_ block: XzBlock) {}

    func abandon(because error: any Error) {}
}
