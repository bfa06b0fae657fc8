import Foundation

/// The vmdk image matrix made by scripts/make-vmdk-matrix: the variants qemu-img 7.2 writes (`qemu-img convert -o
/// subformat=…`, `qemu-img create -b` deltas, qemu-io writes of scattered data), the ones other tools write and qemu
/// reads (other grain sizes, VMware's stream layout, vmfs and seSparse extents), and a corpus of malformed images.
enum VmdkMatrix {
    static let generator = Qcow2Matrix.repositoryRoot + "/scripts/make-vmdk-matrix"

    /// Makes case `name` in `directory` and returns the path of the image to convert.
    static func make(_ name: String, in directory: TemporaryDirectory) throws -> String {
        try Harness.tool(generator, directory.path, name).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Images that must convert to exactly what `qemu-img convert -O raw` writes.
    static let valid = [
        "sparse", "sparse-unaligned-size", "sparse-zeroed-grain", "sparse-scattered", "sparse-grain-4k", "sparse-grain-1m",
        "sparse-grain-512", "sparse-gtes-128", "sparse-handmade-zero-grain", "sparse-tables-after-grains", "stream-optimized",
        "stream-optimized-unaligned", "stream-vmware", "stream-vmware-grain-4k", "monolithic-flat", "twogb-sparse", "twogb-flat", "vmfs-flat",
        "flat-offset-and-short", "sesparse", "delta", "delta-zero-over-data", "delta-chain3", "delta-shorter-parent",
        "descriptor-crlf",
    ]

    /// One sparse file each: these also stream front to back (inside gz/xz, over HTTP) with no scratch space.
    static let streamable = [
        "sparse", "sparse-unaligned-size", "sparse-zeroed-grain", "sparse-scattered", "sparse-grain-4k", "sparse-grain-1m",
        "sparse-grain-512", "sparse-gtes-128", "sparse-handmade-zero-grain", "stream-optimized", "stream-optimized-unaligned",
        "stream-vmware", "stream-vmware-grain-4k",
    ]

    /// Images that must be refused with one clear line (`expected` is in it).
    static let malformed: [Qcow2Matrix.Malformed] = [
        .init(name: "gd-past-eof", expected: "the grain directory (1 entries at 0x8000000000) is larger than the file"),
        .init(name: "gt-past-eof", expected: "grain table 0 at 0x2000000000 lies past the end of the file"),
        .init(name: "grain-past-eof", expected: "grain 1 points past the end of the file"),
        .init(name: "grains-overlap", expected: "grain table entries that overlap"),
        .init(name: "grain-in-metadata", expected: "grain 0 at file offset 0x200 overlaps data or metadata"),
        .init(name: "huge-l1", expected: "L1 size too big"),
        .init(name: "version-4", expected: "unsupported VMDK version 4"),
        .init(name: "gtes-too-big", expected: "L2 table size too big (4096 entries per grain table)"),
        .init(name: "truncated-overhead", expected: "points past the end of the file"),
        .init(name: "bad-footer", expected: "invalid footer"),
        .init(name: "stream-inflates-past-grain", expected: "inflates past its grain size of 65536 bytes"),
        .init(name: "stream-garbage-grain", expected: "is not a valid deflate (zlib) stream"),
        .init(name: "extent-absolute", expected: "extent file \"/etc/passwd\" is an absolute path"),
        .init(name: "extent-dotdot", expected: "leads outside the descriptor's directory (..)"),
        .init(name: "extent-device", expected: "extent file \"zero-flat.vmdk\" is not a regular file"),
        .init(name: "extent-symlink-outside", expected: "extent file \"disk-flat.vmdk\" leads outside the descriptor's directory"),
        .init(name: "parent-cycle", expected: "the backing chain loops"),
        .init(name: "parent-self", expected: "the backing chain loops"),
        .init(name: "parent-absolute", expected: "parent \"/etc/passwd\" is an absolute path"),
        .init(name: "parent-cid-mismatch", expected: "the parent changed after the delta was made"),
        .init(name: "unsupported-create-type", expected: "unsupported image type 'monolithicSparse'"),
        .init(name: "invalid-extent-line", expected: "invalid extent line: RW 8 FLAT \"disk-flat.vmdk\""),
        .init(name: "sesparse-bad-entry", expected: "vmdk seSparse: invalid grain entry 0x5000000000000000"),
        .init(name: "sesparse-dirty", expected: "replaying its journal is not supported"),
    ]

    /// Malformed single sparse files: refused from a stream too.
    static let streamMalformed = ["gd-past-eof", "gt-past-eof", "grain-past-eof", "grains-overlap", "grain-in-metadata", "huge-l1",
                                  "version-4", "gtes-too-big", "truncated-overhead", "stream-inflates-past-grain",
                                  "stream-garbage-grain"]
}
