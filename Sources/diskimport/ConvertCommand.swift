import ArgumentParser
import DiskImage
import DiskImportCore
import Fetch
import Importer
import Target

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert SOURCE (a path, an http(s):// URL, a docker:// reference, an s3:// or gs:// object) into TARGET (a file or a block device) as raw.")

    @Argument(help: "The image to import: a local path (a file, block device, FIFO, or - for standard input), an http(s):// URL, a docker:// reference, or an s3:// or gs:// object.")
    var source: String

    @Argument(help: "Where to write the raw disk: a file (created sparse) or an existing block device.")
    var target: String

    @Option(help: "Disk size (a Kubernetes quantity such as 10Gi): a raw file grows to it, never shrinks below the image.")
    var size: String?

    @Option(help: ArgumentHelp("""
        Apply CDI's space rules for a filesystem volume with this overhead (a number from 0 to 1; CDI's default is \
        0.06): the image must fit in min(free space, --size), and --size grows the disk to at most \
        usable(min(free, --size)). Without it a file target follows qemu-img: no overhead, a sparse disk may be \
        larger than the free space, and only an image whose data is known not to fit is refused before writing.
        """, valueName: "fraction"))
    var filesystemOverhead: String?

    @Option(help: OverheadArithmetic.help)
    var overheadArithmetic: OverheadArithmetic = .current

    @Option(help: "Reserve the target file's space: off (sparse), falloc (fallocate), full (fallocate, else write zeros).")
    var preallocation: PreallocationMode = .off

    @Flag(name: [.customShort("p"), .long], inversion: .prefixedNo,
          help: "Show progress on stderr: a bar on a terminal, a line every few seconds elsewhere (default: when stderr is a terminal).")
    var progress: Bool?

    /// qemu-img convert's -O: diskimport writes raw only, so `-O raw` is accepted and anything else refused.
    @Option(name: .customShort("O"), help: ArgumentHelp("The output format, as for qemu-img convert: only raw.", valueName: "format"))
    var outputFormat: String?

    @Option(help: ArgumentHelp("Expected digest of the source bytes as downloaded or read: sha256:HEX (or md5, sha1, sha512).",
                               valueName: "algo:hex"))
    var checksum: String?

    @Option(help: "A directory for data that arrives before it can be placed (a streamed qcow2 whose tables follow its data).")
    var scratch: String?

    @Flag(help: "Refuse images that have a backing file instead of reading through it.")
    var noBacking = false

    @Flag(inversion: .prefixedNo, help: "fsync the target before reporting success.")
    var sync = true

    @Flag(help: "Print one JSON summary at the end (keys in README.md).")
    var json = false

    @Option(name: [.customShort("f"), .customLong("format")],
            help: ArgumentHelp("The image format inside any wrappers, as qemu-img's -f: raw, qcow2, vmdk, vpc, vhdx or vdi. The probe is skipped: -f raw reads any image as its bytes, -f vpc reads a fixed vhd; another format must be what the bytes are.", valueName: "fmt"))
    var format: String?

    @Option(help: ArgumentHelp("The disk to take from an OVA, counted from 1 in the order of the OVF's DiskSection (default: the first).", valueName: "n"))
    var disk: Int?

    @Option(help: ArgumentHelp("""
        An earlier version of the disk (a raw file volume); repeatable. Its data blocks are indexed by content first, \
        and every 4 KiB block of the import found there (at any offset; the bytes are compared) is cloned from it \
        instead of stored, so the new volume costs only its new blocks. OLD must be a regular file on TARGET's \
        filesystem, and that must share blocks (XFS with reflink=1, btrfs): elsewhere convert fails before writing. \
        Deleting OLD later leaves TARGET intact.
        """, valueName: "old"))
    var reference: [String] = []

    @OptionGroup var network: NetworkOptions

    @OptionGroup(title: "S3 and GCS sources") var objectStore: ObjectStoreOptions

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            let request = try parsingFlagValues(makeRequest)
            let transfer = TransferProgress()
            let display = (progress ?? ProgressDisplay.standardErrorIsTerminal) ? ProgressDisplay(progress: transfer) : nil
            let result: ConvertResult
            do {
                defer { display?.stop() }
                result = try Converter(request: request, progress: transfer).run()
                display?.finish()
            }
            if json { Console.writeOutput(Self.summary(result).rendered() + "\n") }
        }
    }

    /// The request the flags describe; a value no import could use is a `.usage` error.
    private func makeRequest() throws -> ConvertRequest {
        if let outputFormat, outputFormat != "raw" {
            throw DiskImportError.usage("-O \(outputFormat.prefix(40)): diskimport writes raw disks only (-O raw)")
        }
        var request = ConvertRequest(source: source, target: target)
        request.requestedSize = try size.map(Quantity.bytes)
        request.filesystemOverhead = try filesystemOverhead.map(FilesystemOverhead.init(parsing:))?.using(overheadArithmetic)
        request.preallocation = preallocation
        request.sync = sync
        request.followBacking = !noBacking
        request.scratchDirectory = scratch
        request.network = try objectStore.adding(to: network.httpOptions(), for: source)
        request.checksum = try checksum.map(Checksum.init(parsing:))
        request.platform = try network.platform()
        request.format = try FormatChoice(parsing: format)
        if let disk, disk < 1 { throw DiskImportError.usage("--disk \(disk): disks are counted from 1") }
        request.ovaDisk = disk
        request.references = reference
        return request
    }

    /// The `--json` summary. Key names are stable; README.md documents them.
    static func summary(_ result: ConvertResult) -> JSON {
        .object([
            ("format", .string(result.sourceFormat)),
            ("layers", .array(result.layers.map { .string($0) })),
            ("virtual-size", .number(Double(result.virtualSize))),
            ("bytes-read", .number(Double(result.bytesRead))),
            ("bytes-written", .number(Double(result.bytesWritten))),
            ("bytes-cloned", .number(Double(result.bytesCloned))),
            ("bytes-shared-with-reference", .number(Double(result.bytesSharedWithReference))),
            ("hole-bytes", .number(Double(result.holeBytes))),
            ("scratch-bytes", .number(Double(result.scratchBytes))),
            ("seconds", .number(result.seconds)),
            ("target-kind", .string(result.targetKind.rawValue)),
            ("target-size", .number(Double(result.targetLength))),
            ("preallocation", .string(result.preallocation.mode.rawValue)),
            ("preallocation-applied", .bool(result.preallocationApplied)),
            ("preallocation-method", .string(result.preallocation.method.rawValue)),
        ])
    }
}

extension PreallocationMode: ExpressibleByArgument {}

extension OverheadArithmetic: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }

    /// Shared by `convert` and the cron commands.
    static let help = ArgumentHelp(
        "Which CDI release's overhead arithmetic CDI's space rules follow: v1.63 (CDI v1.63.0 and later: avail / (1 + o), size × (1 + o)) or v1.62 (CDI v1.62.0 and earlier: (1 - o) × avail, size / (1 - o)).",
        valueName: "release")
}
