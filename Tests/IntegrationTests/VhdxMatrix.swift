import Foundation

/// The vhdx image matrix made by scripts/make-vhdx-matrix: the variants qemu-img 7.2 writes (block sizes, fixed and
/// dynamic, zero block states, log sizes, converted images), a few it reads though it would not write them, and a
/// corpus of malformed images.
enum VhdxMatrix {
    static let generator = Qcow2Matrix.repositoryRoot + "/scripts/make-vhdx-matrix"

    /// Makes case `name` in `directory` and returns the path of the image to convert.
    static func make(_ name: String, in directory: TemporaryDirectory) throws -> String {
        try Harness.tool(generator, directory.path, name).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes what the oracle reads from `image` to `output`: `qemu-img convert -O raw`, or libvhdi for the variants
    /// qemu-img 7.2 refuses to open (4 KiB logical sectors: "Operation not supported").
    static func expected(_ name: String, image: String, output: String) throws {
        if libvhdiCases.contains(name) {
            try Harness.tool(generator, "--libvhdi-raw", image, output)
        } else {
            try Harness.tool("qemu-img", "convert", "-O", "raw", image, output)
        }
    }

    static let libvhdiCases: Set = ["sectors-4k-1m", "sectors-4k-8m"]

    /// Images that must convert to exactly what the oracle writes.
    static let valid = [
        "dynamic-1m", "dynamic-8m", "dynamic-32m", "dynamic-256m", "dynamic-default", "dynamic-no-zero-state",
        "dynamic-log-4m", "dynamic-empty", "unaligned-size", "fixed", "fixed-no-zero-state", "converted-2m",
        "converted-fixed", "bat-after-data", "log-guid-without-entries", "virtual-size-unaligned", "sectors-4k-1m",
        "sectors-4k-8m",
    ]

    /// Valid images in the layout qemu-img writes (every region before the data): they stream with no scratch.
    static let streamable = valid.filter { $0 != "bat-after-data" }

    /// Valid, but a 4 GiB disk: converted once, not in every mode.
    static let large = ["chunk-boundary"]

    struct Malformed: CustomStringConvertible, Sendable {
        var name: String
        /// Text the one-line error must contain.
        var expected: String
        var description: String { name }
    }

    /// Images that must be refused with one clear line.
    static let malformed: [Malformed] = [
        .init(name: "no-valid-header", expected: "no valid header"),
        .init(name: "region-table-crc", expected: "region table's CRC-32C does not match"),
        .init(name: "regions-overlap", expected: "the metadata region (0x280000, 1048576 bytes) overlaps the BAT region"),
        .init(name: "region-overlaps-log", expected: "the BAT region (0x100000, 1048576 bytes) overlaps the log"),
        .init(name: "bat-region-past-eof", expected: "the BAT region (0x4000000, 1048576 bytes) lies past the end of the file"),
        .init(name: "bat-too-small", expected: "the BAT region (64 bytes) is too small for the 9 entries"),
        .init(name: "block-past-eof", expected: "block 0 (at 0x40000000) lies past the end of the file"),
        .init(name: "blocks-overlap", expected: "overlaps block 0"),
        .init(name: "block-in-metadata", expected: "block 0 (at 0x300000) overlaps the metadata region"),
        .init(name: "block-in-header", expected: "block 0 (at 0x0) lies in the 1 MiB header section"),
        .init(name: "block-state-partial", expected: "block 1 is partially present in an image without a parent"),
        .init(name: "block-state-undefined", expected: "BAT entry of block 1 has the undefined state 4"),
        .init(name: "block-size-3m", expected: "block size 3145728 is not a power of two"),
        .init(name: "sector-size-1024", expected: "logical sector size 1024"),
        .init(name: "no-page83-item", expected: "no page 83 data item"),
        .init(name: "required-unknown-item", expected: "required item of unknown type"),
        .init(name: "metadata-entry-count", expected: "the metadata table has 4000 entries"),
        .init(name: "log-needs-replay", expected: "contains a log that needs to be replayed (1 entry from sequence number 7)"),
        .init(name: "truncated", expected: "lies past the end of the file"),
        .init(name: "differencing", expected: "a differencing image (has_parent) without a parent locator item"),
    ]
}
