import DiskImportCore

/// A unit of work for a vmdk transfer worker.
enum VmdkTransferJob: Sendable {
    /// Zero ranges and data ranges, done in order.
    case extents([VmdkTransferOperation])
    /// Compressed grains read with one pread of their span (random access), inflated and written.
    case grains(VmdkGrainBatch)
    /// Compressed grains already read from a stream into `buffer`, inflated and written.
    case streamedGrains(VmdkStreamedGrains)
}

enum VmdkTransferOperation: Sendable {
    case zeros(guest: UInt64, length: UInt64)
    /// `length` bytes of `source` at `host` go to `guest`; the range lies inside the source.
    case data(source: VmdkSourceBox, host: UInt64, guest: UInt64, length: UInt64)
}

/// Compressed grains whose markers lie close together in one extent file.
struct VmdkGrainBatch: Sendable {
    var source: VmdkSourceBox
    /// Covers every item's marker and the two grains' worth of bytes qemu reads after it.
    var span: Range<UInt64>
    var grainBytes: UInt64
    var hasMarkers: Bool
    var items: [Item]

    struct Item: Sendable {
        var host: UInt64
        /// The wanted bytes of the inflated grain, and where they go.
        var offsetInGrain: Int
        var length: Int
        var guest: UInt64
    }
}

/// Grains of a stream-optimized stream, their deflate data packed in `buffer`.
struct VmdkStreamedGrains: @unchecked Sendable {
    var buffer: UnsafeMutableRawBufferPointer
    var grainBytes: UInt64
    /// The guest's size, which cuts the last grain short.
    var virtualSize: UInt64
    var name: String
    var items: [Item]

    struct Item: Sendable {
        var offset: Int
        var count: Int
        var guest: UInt64
    }
}
