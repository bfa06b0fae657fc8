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

    @Argument(help: "The image to describe: a local path (or - for standard input), an http(s):// URL or a docker:// reference.")
    var source: String

    @Option(help: "human (like qemu-img info) or json (qemu-img info's key names, plus layers).")
    var output: OutputFormat = .human

    @Option(name: [.customShort("f"), .customLong("format")],
            help: ArgumentHelp("Assert the image format inside any wrappers (raw, qcow2): an error when the bytes say otherwise.", valueName: "fmt"))
    var format: String?

    @Flag(help: "Describe the whole backing chain, the image first, as qemu-img info --backing-chain (json: an array).")
    var backingChain = false

    @OptionGroup var network: NetworkOptions

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            let (options, platform) = try parsingFlagValues { (try network.httpOptions(), try network.platform()) }
            if backingChain {
                let chain = try ImageInspector.inspectChain(source, network: options, platform: platform)
                switch output {
                case .human: Console.writeOutput(ImageInspector.humanText(chain: chain))
                case .json: Console.writeOutput(ImageInspector.json(chain: chain).rendered() + "\n")
                }
                return
            }
            let info = try ImageInspector.inspect(source, network: options, platform: platform, assertedFormat: format)
            switch output {
            case .human: Console.writeOutput(info.humanText)
            case .json: Console.writeOutput(info.json.rendered() + "\n")
            }
        }
    }
}
