import DiskImportCore

/// A unit of work for a transfer worker thread.
enum Qcow2TransferJob: Sendable {
    /// Zero ranges and plain data ranges, done in order.
    case extents([Qcow2TransferOperation])
    /// Compressed clusters read with one pread of their span, decompressed and written.
    case compressed(Qcow2CompressedBatch)
}

enum Qcow2TransferOperation: Sendable {
    case zeros(guest: UInt64, length: UInt64)
    /// `length` bytes of `source` at `host` go to `guest`; the range lies inside the source.
    case data(source: RandomAccessSource, host: UInt64, guest: UInt64, length: UInt64)
    /// `count` bytes of `buffer` from `offset` go to `guest` (the streaming reader's data, already read).
    case bytes(Qcow2OwnedBuffer, offset: Int, count: Int, guest: UInt64)
}

/// Compressed clusters whose bytes lie close together: in a file (one pread of the span fetches them all), or
/// already in memory (the streaming reader).
struct Qcow2CompressedBatch: Sendable {
    enum Input: Sendable {
        /// Item host offsets are file offsets; `spanStart..<spanEnd` covers every item.
        case file(RandomAccessSource, spanStart: UInt64, spanEnd: UInt64)
        /// Item host offsets are offsets into the buffer.
        case memory(Qcow2OwnedBuffer)
    }

    var input: Input
    /// The image's name, for errors.
    var name: String
    var clusterSize: Int
    var type: Qcow2CompressionType
    var items: [Item]

    struct Item: Sendable {
        var cluster: Qcow2CompressedCluster
        /// Where the wanted bytes start in the decompressed cluster, and how many there are.
        var offsetInCluster: Int
        var length: Int
        var guest: UInt64
    }
}
