import ArgumentParser
import DiskImportCore
import Importer
import Target

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert SOURCE (a path) into TARGET (a regular file or a block device) as raw.")

    @Argument(help: "The image to import: a local path, an http(s):// URL, a docker:// reference, or an s3:// or gs:// object.")
    var source: String

    @Argument(help: "Where to write the raw disk: a file (created sparse) or an existing block device.")
    var target: String

    @Option(help: "Requested disk size (a Kubernetes quantity such as 10Gi); the raw file grows to it, within the usable space.")
    var size: String?

    @Option(help: "Fraction of a target filesystem kept free for its own overhead, as a decimal from 0 to 1.")
    var filesystemOverhead: String = FilesystemOverhead.standard.description

    @Option(help: "Reserve the target file's space: off (sparse), falloc (fallocate), full (fallocate, else write zeros).")
    var preallocation: PreallocationMode = .off

    @Flag(inversion: .prefixedNo, help: "Show a progress bar on stderr (default: when stderr is a terminal).")
    var progress: Bool?

    @Option(help: "A directory for data that arrives before it can be placed (a streamed qcow2 whose tables follow its data).")
    var scratch: String?

    @Flag(help: "Refuse images that have a backing file instead of reading through it.")
    var noBacking = false

    @Flag(inversion: .prefixedNo, help: "fsync the target before reporting success.")
    var sync = true

    @Flag(help: "Print one JSON summary at the end (keys in README.md).")
    var json = false

    @OptionGroup var network: NetworkOptions

    @OptionGroup(title: "S3 and GCS sources") var objectStore: ObjectStoreOptions

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            var request = ConvertRequest(source: source, target: target)
            request.requestedSize = try size.map(Quantity.bytes)
            request.filesystemOverhead = try FilesystemOverhead(parsing: filesystemOverhead)
            request.preallocation = preallocation
            request.sync = sync
            request.followBacking = !noBacking
            request.scratchDirectory = scratch
            request.network = try network.httpOptions()
            request.checksum = try network.expectedChecksum()
            request.platform = try network.platform()
            let transfer = TransferProgress()
            let display = (progress ?? ProgressDisplay.standardErrorIsTerminal) ? ProgressDisplay(progress: transfer) : nil
            let result: ConvertResult
            do {
                defer { display?.stop() }
                let object = try objectStore.object(source, network: request.network)
                result = try Converter(request: request, progress: transfer, storedObject: object).run()
            }
            if json { Console.writeOutput(Self.summary(result).rendered() + "\n") }
        }
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
