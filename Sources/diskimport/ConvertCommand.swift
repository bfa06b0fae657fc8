import ArgumentParser
import DiskImportCore
import Importer

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert SOURCE (a path) into TARGET (a regular file or a block device) as raw.")

    @Argument(help: "The image to import: a local path.")
    var source: String

    @Argument(help: "Where to write the raw disk: a file (created sparse) or an existing block device.")
    var target: String

    @Option(help: "Requested disk size (a Kubernetes quantity such as 10Gi); the raw file grows to it.")
    var size: String?

    @Option(help: "Fraction of the filesystem kept free for its own overhead.")
    var filesystemOverhead: Double = 0.055

    @Option(help: "A directory for data that arrives before it can be placed (a streamed qcow2 whose tables follow its data).")
    var scratch: String?

    @Flag(help: "Refuse images that have a backing file instead of reading through it.")
    var noBacking = false

    @Flag(inversion: .prefixedNo, help: "fsync the target before reporting success.")
    var sync = true

    @Flag(help: "Print one JSON summary at the end.")
    var json = false

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            var request = ConvertRequest(source: source, target: target)
            request.requestedSize = try size.map(Quantity.bytes)
            request.filesystemOverhead = filesystemOverhead
            request.followBacking = !noBacking
            request.sync = sync
            request.scratchDirectory = scratch
            let result = try Converter(request: request).run()
            if json {
                print(JSON.object([
                    ("format", .string(result.sourceFormat)),
                    ("layers", .array(result.layers.map { .string($0) })),
                    ("virtual-size", .number(Double(result.virtualSize))),
                    ("bytes-read", .number(Double(result.bytesRead))),
                    ("bytes-written", .number(Double(result.bytesWritten))),
                    ("scratch-bytes", .number(Double(result.scratchBytes))),
                    ("seconds", .number(result.seconds)),
                ]).rendered())
            }
        }
    }
}
