import CDeflate
import DiskImportCore

/// Inflates compressed vmdk grains as qemu's vmdk_read_extent does: the data is a zlib stream (compress(), not raw
/// deflate) that must end, check out (Adler-32) and produce at most one grain. One per worker thread: libdeflate
/// keeps no state between buffers, but its decompressor is worth allocating once.
final class VmdkGrainInflater {
    enum Failure: Error, Equatable {
        /// The stream produces more than one grain.
        case pastGrainSize
        /// Not a complete, valid zlib stream.
        case badData
    }

    private let decompressor: OpaquePointer

    init() {
        // libdeflate_alloc_decompressor only fails when malloc does.
        guard let d = libdeflate_alloc_decompressor() else { fatalError("libdeflate_alloc_decompressor: out of memory") }
        decompressor = d
    }

    deinit { libdeflate_free_decompressor(decompressor) }

    /// Inflates `input` into `output` (one grain) and returns the bytes produced; bytes after the stream's end are
    /// ignored, as zlib's uncompress ignores them.
    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Result<Int, Failure> {
        guard let inBase = input.baseAddress, let outBase = output.baseAddress, input.count > 0 else { return .failure(.badData) }
        var consumed = 0, produced = 0
        switch libdeflate_zlib_decompress_ex(decompressor, inBase, input.count, outBase, output.count, &consumed, &produced) {
        case LIBDEFLATE_SUCCESS: return .success(produced)
        case LIBDEFLATE_INSUFFICIENT_SPACE: return .failure(.pastGrainSize)
        default: return .failure(.badData)
        }
    }

    /// The error for a grain of `name` at guest offset `guest` (file offset `host` when read by random access).
    static func error(_ failure: Failure, name: String, guest: UInt64, host: UInt64?, grainBytes: UInt64) -> DiskImportError {
        let place = host.map { "compressed grain at 0x\(String($0, radix: 16)) (guest offset \(guest))" } ?? "compressed grain for guest offset \(guest)"
        switch failure {
        case .pastGrainSize: return .corrupt("\(name): vmdk: \(place) inflates past its grain size of \(grainBytes) bytes")
        case .badData: return .corrupt("\(name): vmdk: \(place) is not a valid deflate (zlib) stream")
        }
    }
}
