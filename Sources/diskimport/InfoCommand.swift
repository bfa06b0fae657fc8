import ArgumentParser
import DiskImportCore
import Importer

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe SOURCE: format, virtual size, and the stack of compression layers.")

    @Argument(help: "The image to describe: a local path.")
    var source: String

    @OptionGroup var network: NetworkOptions

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            throw DiskImportError.unsupported("info is not supported yet")
        }
    }
}
