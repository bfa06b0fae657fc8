import ArgumentParser
import DiskImportCore
import Importer

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe SOURCE: format, virtual size, allocated size, qcow2 details, and the stack of compression layers.")

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case human, json
    }

    @Argument(help: "The image to describe: a local path, an http(s):// URL, a docker:// reference, or an s3:// or gs:// object.")
    var source: String

    @Option(help: "human (like qemu-img info) or json (qemu-img info's key names, plus layers).")
    var output: OutputFormat = .human

    @OptionGroup var network: NetworkOptions

    @OptionGroup(title: "S3 and GCS sources") var objectStore: ObjectStoreOptions

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            let info = try objectStore.object(source, network: network.httpOptions()).map(ImageInspector.inspect)
                ?? ImageInspector.inspect(source, network: network.httpOptions(), platform: network.platform())
            switch output {
            case .human: Console.writeOutput(info.humanText)
            case .json: Console.writeOutput(info.json.rendered() + "\n")
            }
        }
    }
}
