import Foundation

/// The vdi and vhd (vpc) images made by scripts/make-vdi-vpc-matrix: variants qemu-img 7.2 writes (and a few that
/// other tools write), and a corpus of malformed images.
enum BlockMapMatrix {
    static let generator = Qcow2Matrix.repositoryRoot + "/scripts/make-vdi-vpc-matrix"

    /// Makes case `name` in `directory` and returns the path of the image to convert.
    static func make(_ name: String, in directory: TemporaryDirectory) throws -> String {
        try Harness.tool(generator, directory.path, name).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct Malformed: CustomStringConvertible, Sendable {
        var name: String
        /// Text the one-line error must contain when the image is read with random access (a local file).
        var expected: String
        var description: String { name }
    }

    static let validVdi = ["vdi-dynamic", "vdi-static", "vdi-dynamic-writes", "vdi-static-writes", "vdi-empty", "vdi-discarded",
                           "vdi-odd-size", "vdi-map-at-end"]

    static let malformedVdi: [Malformed] = [
        .init(name: "vdi-version", expected: "unsupported VDI image (version 1.0)"),
        .init(name: "vdi-block-size", expected: "unsupported VDI image (block size 2097152 is not 1048576)"),
        .init(name: "vdi-sector-size", expected: "unsupported VDI image (sector size 4096 is not 512)"),
        .init(name: "vdi-map-unaligned", expected: "unsupported VDI image (unaligned block map offset 0x201)"),
        .init(name: "vdi-data-unaligned", expected: "unsupported VDI image (unaligned data offset 0x1001)"),
        .init(name: "vdi-map-too-small", expected: "(disk size 4194304, image bitmap has room for 2097152)"),
        .init(name: "vdi-parent-uuid", expected: "unsupported VDI image (non-NULL parent UUID)"),
        .init(name: "vdi-link-uuid", expected: "unsupported VDI image (non-NULL link UUID)"),
        .init(name: "vdi-too-large", expected: "Unsupported VDI image size (size is 0x1000000000000000"),
        .init(name: "vdi-huge-map", expected: "exceeds the 32 MiB diskimport reads"),
        .init(name: "vdi-map-past-eof", expected: "the vdi block map at offset 512 (16777216 bytes) lies past the end of the file"),
        .init(name: "vdi-duplicate-entries", expected: "overlap in the file"),
        .init(name: "vdi-block-past-eof", expected: "lies past the end of the file"),
        .init(name: "vdi-truncated", expected: "lies past the end of the file"),
    ]

    /// vpc-fixed is probed as raw by qemu-img, as by diskimport: its output keeps the footer.
    static let validVpc = ["vpc-dynamic", "vpc-dynamic-writes", "vpc-force-size", "vpc-force-size-writes", "vpc-empty", "vpc-fixed",
                           "vpc-creator-win", "vpc-creator-d2v", "vpc-creator-tap", "vpc-creator-ctxs", "vpc-creator-vpc",
                           "vpc-creator-azure"]

    static let malformedVpc: [Malformed] = [
        .init(name: "vpc-checksum", expected: "vpc: Incorrect header checksum"),
        .init(name: "vpc-header-magic", expected: "vpc: Invalid header magic"),
        .init(name: "vpc-block-size", expected: "vpc: Invalid block size 3000000"),
        .init(name: "vpc-table-too-small", expected: "vpc: Page table too small"),
        .init(name: "vpc-table-past-eof", expected: "the vpc block allocation table at offset 1099511627776"),
        .init(name: "vpc-duplicate-entries", expected: "overlap in the file"),
        .init(name: "vpc-block-past-eof", expected: "lies past the end of the file"),
        .init(name: "vpc-too-large", expected: "exceed qemu's limit of 2040 GiB"),
        .init(name: "vpc-huge-table", expected: "exceeds the 32 MiB diskimport reads"),
        .init(name: "vpc-truncated", expected: "the image is truncated"),
    ]

    /// Differencing vhds, which qemu-img 7.2 reads as dynamic ones (no parent): the generator writes their guest
    /// bytes, from the VHD specification, to expected.raw beside them.
    static let validDifferencing = ["vpc-differencing", "vpc-differencing-fixed-parent", "vpc-differencing-chain"]

    static let malformedParents: [Malformed] = [
        .init(name: "vpc-parent-missing", expected: "cannot open its parent base.vhd"),
        .init(name: "vpc-parent-drive", expected: "names a protocol or a drive"),
        .init(name: "vpc-parent-dotdot", expected: "leads outside the image's directory (..)"),
        .init(name: "vpc-parent-changed", expected: "the parent changed after the child was made"),
        .init(name: "vpc-parent-cycle", expected: "the parent chain loops"),
    ]

    /// Fixed vhds read with `-f vpc`, as `qemu-img convert -f vpc` reads them (without `-f` they are raw).
    static let fixedVpc = ["vpc-fixed-plain", "vpc-fixed-writes", "vpc-fixed-force-size", "vpc-fixed-force-size-writes",
                           "vpc-fixed-creator-win", "vpc-fixed-creator-vpc"]

    /// Fixed vhds `-f vpc` refuses: qemu-img refuses the last two; it reads the first, whose footer claims more than
    /// the file holds, with zeros past the end (and the footer as data), which diskimport refuses as truncated.
    static let malformedFixedVpc: [Malformed] = [
        .init(name: "vpc-fixed-oversized", expected: "vpc: the fixed image holds 4212736 bytes, fewer than its 67108864: the image is truncated"),
        .init(name: "vpc-fixed-dynamic-type", expected: "vpc: invalid VPC image: the footer at the end has disk type 3, not fixed (2)"),
        .init(name: "vpc-fixed-checksum", expected: "vpc: Incorrect header checksum"),
    ]

    static var valid: [String] { validVdi + validVpc }
    static var malformed: [Malformed] { malformedVdi + malformedVpc + malformedParents }

    /// The format qemu-img and diskimport name the image by: its magic at the head.
    static func format(of name: String) -> String {
        name == "vpc-fixed" ? "raw" : String(name.prefix(3))
    }
}
