import DiskImportCore

/// One image of a chain read with random access, seen as a map from guest ranges to its own file: a vhd (fixed,
/// dynamic or differencing), a vdi. The chain's planner (`MappedChainPlanner`) asks each layer what it holds and
/// goes to the layer below for what it does not.
protocol MappedLayer: AnyObject, Sendable {
    /// The image file the layer's data runs point into.
    var source: RandomAccessSource { get }
    /// The layer's guest size; a parent shorter than its child reads as zeros past its end.
    var virtualSize: UInt64 { get }
    /// Calls `body` with the runs that cover `range` (inside `0..<virtualSize`), in guest order, their lengths adding
    /// up to the range's.
    func forEachRun(in range: Range<UInt64>, _ body: (LayerRun) throws -> Void) throws
}

/// What a layer holds for a piece of the guest range.
enum LayerRun: Equatable, Sendable {
    /// `length` guest bytes stored in the layer's file at `host`.
    case data(host: UInt64, length: UInt64)
    /// `length` guest bytes that read as zeros, whatever lies below.
    case zeros(length: UInt64)
    /// `length` guest bytes this layer does not hold: the layer below has them (zeros when there is none).
    case below(length: UInt64)

    var length: UInt64 {
        switch self {
        case .data(_, let length), .zeros(let length), .below(let length): return length
        }
    }
}

/// A piece of the guest range as the transfer writes it: bytes of a file, or zeros.
enum TransferRun: Sendable {
    /// `length` bytes of `source` at `host` go to `guest`; the range lies inside the source.
    case copy(source: RandomAccessSource, host: UInt64, guest: UInt64, length: UInt64)
    case zeros(guest: UInt64, length: UInt64)

    var guest: UInt64 {
        switch self {
        case .copy(_, _, let guest, _), .zeros(let guest, _): return guest
        }
    }

    var length: UInt64 {
        switch self {
        case .copy(_, _, _, let length), .zeros(_, let length): return length
        }
    }
}
