import CLinux
import DiskImportCore

#if canImport(Glibc)
import Glibc
#endif

/// What a guest range of one extent holds.
enum VmdkContent: Equatable {
    /// Read it from the parent image (zeros when there is none).
    case unallocated
    case zero
    /// Bytes of `source` starting at `host`, for the whole range.
    case data(source: VmdkSourceBox, host: UInt64)
    /// Part of the compressed grain whose marker is at `host`; the range starts `offsetInGrain` bytes into it.
    case compressed(source: VmdkSourceBox, host: UInt64, offsetInGrain: UInt64, grainBytes: UInt64, hasMarker: Bool)
}

/// A source compared by identity, so contents can be compared and coalesced.
struct VmdkSourceBox: Equatable, @unchecked Sendable {
    let source: RandomAccessSource
    static func == (a: VmdkSourceBox, b: VmdkSourceBox) -> Bool { a.source === b.source }
}

/// One extent of a vmdk image: a flat file range, or a sparse extent with its grain directory. `length` guest bytes
/// starting at `start` in the image.
final class VmdkExtent {
    enum Storage {
        case flat(offset: UInt64)
        case sparse(VmdkGrainDirectory, hasMarkers: Bool)
    }

    let source: RandomAccessSource
    let storage: Storage
    let length: UInt64
    /// Where the extent starts in the image's guest range.
    var start: UInt64 = 0
    /// qemu-img info's extent fields.
    let info: VmdkExtentInfo

    init(source: RandomAccessSource, storage: Storage, length: UInt64, info: VmdkExtentInfo) {
        self.source = source
        self.storage = storage
        self.length = length
        self.info = info
    }

    /// The longest run starting at `offset` (relative to the extent, < `limit` <= `length`) of one kind of content.
    func content(at offset: UInt64, limit: UInt64) throws -> (length: UInt64, content: VmdkContent) {
        switch storage {
        case .flat(let base):
            return flatContent(host: base + offset, length: limit - offset)
        case .sparse(let directory, let hasMarkers):
            let grainBytes = directory.grainBytes
            let index = offset / grainBytes
            let inGrain = offset % grainBytes
            var end = min(limit, (index + 1) * grainBytes)
            let box = VmdkSourceBox(source: source)
            let first = try index < directory.grainCount ? directory.grain(index) : .unallocated
            switch first {
            case .compressed(let host):
                return (end - offset, .compressed(source: box, host: host, offsetInGrain: inGrain, grainBytes: grainBytes, hasMarker: hasMarkers))
            case .data(let host):
                // Grains contiguous in the file and in the guest make one run.
                var next = index + 1
                while end < limit, next < directory.grainCount, case .data(let h) = try directory.grain(next), h == host - inGrain + (next - index) * grainBytes {
                    end = min(limit, (next + 1) * grainBytes)
                    next += 1
                }
                return (end - offset, .data(source: box, host: host + inGrain))
            case .zero, .unallocated:
                var next = index + 1
                while end < limit, try (next < directory.grainCount ? directory.grain(next) : .unallocated) == first {
                    end = min(limit, (next + 1) * grainBytes)
                    next += 1
                }
                return (end - offset, first == .zero ? .zero : .unallocated)
            }
        }
    }

    /// A flat range: data, with the file's holes (lseek SEEK_DATA / SEEK_HOLE) and what lies past its end as zeros,
    /// which is what qemu reads there.
    private func flatContent(host: UInt64, length: UInt64) -> (length: UInt64, content: VmdkContent) {
        let box = VmdkSourceBox(source: source)
        guard host < source.length else { return (length, .zero) }
        let inFile = min(length, source.length - host)
        guard let fd = source.localFile?.rawValue else { return (inFile, .data(source: box, host: host)) }
        let data = clinux_seek_data(fd, Int64(host))
        if data < 0 { return errno == ENXIO ? (inFile, .zero) : (inFile, .data(source: box, host: host)) }
        if UInt64(data) > host { return (min(UInt64(data) - host, inFile), .zero) }
        let hole = clinux_seek_hole(fd, Int64(host))
        let end = hole > Int64(host) ? min(UInt64(hole) - host, inFile) : inFile
        return (end, .data(source: box, host: host))
    }
}

/// qemu-img info's fields of one extent (vmdk_get_extent_info).
struct VmdkExtentInfo: Sendable, Equatable {
    var filename: String
    /// The descriptor's extent type ("SPARSE", "FLAT", …); empty for the extent of a monolithic sparse file.
    var format: String
    var virtualSize: UInt64
    var compressed: Bool
    /// Nil for flat extents.
    var clusterSize: UInt64?
}
