import Foundation

/// The qcow2 image matrix made by scripts/make-qcow2-matrix: every variant qemu-img 7.2 can write (and a few it
/// reads though it would not write them), and a corpus of malformed images.
enum Qcow2Matrix {
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let generator = repositoryRoot + "/scripts/make-qcow2-matrix"

    /// Makes case `name` in `directory` and returns the path of the image to convert.
    static func make(_ name: String, in directory: TemporaryDirectory) throws -> String {
        try Harness.tool(generator, directory.path, name).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Images that must convert to exactly what `qemu-img convert -O raw` writes.
    static let valid = [
        "v2-512", "v2-64k", "v2-2m", "v3-512", "v3-4k", "v3-64k", "v3-2m",
        "zero-plain", "zero-preallocated",
        "zlib-512", "zlib-64k", "zlib-2m", "zlib-v2-64k", "zstd-4k", "zstd-64k", "zstd-2m", "compressed-short-last",
        "extended-l2", "extended-l2-backing", "extended-l2-compressed",
        "snapshots", "lazy-refcounts", "dirty", "corrupt-bit", "bitmaps", "unaligned-size",
        "l2-entry-past-eof", "l2-table-past-eof", "data-past-eof",
        "backing-qcow2", "backing-small-overlay-clusters", "backing-raw", "backing-shorter", "backing-unaligned-size",
        "backing-relative", "backing-chain3", "backing-probed", "backing-zero-over-data", "l1-moved", "needs-scratch",
    ]

    struct Malformed: CustomStringConvertible, Sendable {
        var name: String
        /// Text the one-line error must contain.
        var expected: String
        var description: String { name }
    }

    /// Images that must be refused with one clear line.
    static let malformed: [Malformed] = [
        .init(name: "truncated-header", expected: "truncated header"),
        .init(name: "bad-magic-garbage", expected: "unsupported cluster size 2^40"),
        .init(name: "huge-l1-size", expected: "active L1 table too large"),
        .init(name: "l1-too-small", expected: "too small for the virtual size"),
        .init(name: "l1-offset-unaligned", expected: "active L1 table offset 0x30200 is invalid"),
        .init(name: "l2-offset-unaligned", expected: "L2 table offset 0x41000 (L1 index 0) is not aligned"),
        .init(name: "l1-past-int64", expected: "beyond the largest readable file offset"),
        .init(name: "data-offset-unaligned", expected: "cluster offset 0x50200 is not aligned"),
        .init(name: "compressed-past-eof", expected: "past the end of the file"),
        .init(name: "compressed-garbage", expected: "does not decompress to one zlib cluster"),
        .init(name: "bitmap-both-bits", expected: "both allocated and zero (invalid subcluster bitmap"),
        .init(name: "bitmap-unallocated-cluster", expected: "allocated in an unallocated cluster (invalid subcluster bitmap"),
        .init(name: "encryption-luks", expected: "encrypted (LUKS)"),
        .init(name: "encryption-aes", expected: "encrypted (AES)"),
        .init(name: "unknown-incompatible-bit", expected: "unsupported incompatible feature(s): unknown bit 5"),
        .init(name: "external-data-file", expected: "external data file"),
        .init(name: "backing-cycle", expected: "backing chain loops"),
        .init(name: "backing-self", expected: "backing chain loops"),
        .init(name: "backing-missing", expected: "cannot open its backing file"),
        .init(name: "v2-zero-bit", expected: "zero cluster flag in a version 2 image"),
        .init(name: "header-length-unaligned", expected: "header_length 108 is not a multiple of 8"),
        .init(name: "header-length-short", expected: "header_length 100 is shorter than 104"),
        .init(name: "no-refcount-table", expected: "no refcount table"),
        .init(name: "refcount-order-too-big", expected: "refcount_order 7 exceeds 6"),
        .init(name: "extension-too-large", expected: "header extension 0x12345678 is too large"),
        .init(name: "compression-type-unknown", expected: "unknown compression type 7"),
        .init(name: "zstd-bit-without-type", expected: "compression type feature bit is set"),
        .init(name: "version-4", expected: "qcow2 version 4"),
    ]
}
