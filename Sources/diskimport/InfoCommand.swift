import ArgumentParser
import DiskImage
import DiskImportCore
import Importer

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe SOURCE: format, virtual size, allocated size, qcow2 details, and the stack of compression layers.")

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case human, json
    }

    @Argument(help: "The image to describe: a local path (or - for standard input), an http(s):// URL, a docker:// reference, or an s3:// or gs:// object.")
    var source: String

    @Option(help: "human (like qemu-img info) or json (qemu-img info's key names, plus layers).")
    var output: OutputFormat = .human

    @Option(name: [.customShort("f"), .customLong("format")],
            help: ArgumentHelp("The image format inside any wrappers, as qemu-img's -f: raw, qcow2, vmdk, vpc, vhdx or vdi. The probe is skipped: -f raw reads any image as its bytes, -f vpc reads a fixed vhd; another format must be what the bytes are.", valueName: "fmt"))
    var format: String?

    @Option(help: ArgumentHelp("The disk of an OVA to describe, counted from 1 in the order of the OVF's DiskSection (default: the first).", valueName: "n"))
    var disk: Int?

    @Flag(help: "Describe the whole backing chain, the image first, as qemu-img info --backing-chain (json: an array).")
    var backingChain = false

    @OptionGroup var network: NetworkOptions

    @OptionGroup(title: "S3 and GCS sources") var objectStore: ObjectStoreOptions

    @OptionGroup var common: CommonOptions

    private func checkedDisk() throws -> Int? {
        if let disk, disk < 1 { throw DiskImportError.usage("--disk \(disk): disks are counted from 1") }
        return disk
    }

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            let (options, platform) = try parsingFlagValues {
                (try objectStore.adding(to: network.httpOptions(), for: source), try network.platform())
            }
            if backingChain {
                let chain = try ImageInspector.inspectChain(source, network: options, platform: platform)
                switch output {
                case .human: Console.writeOutput(ImageInspector.humanText(chain: chain))
                case .json: Console.writeOutput(ImageInspector.json(chain: chain).rendered() + "\n")
                }
                return
            }
            let info = try ImageInspector.inspect(source, network: options, platform: platform, format: try parsingFlagValues { try FormatChoice(parsing: format) },
                                                 ovaDisk: try parsingFlagValues { try checkedDisk() })
            switch output {
            case .human: Console.writeOutput(info.humanText)
            case .json: Console.writeOutput(info.json.rendered() + "\n")
            }
        }
    }
}
