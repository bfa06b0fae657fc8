import ArgumentParser

@main
struct DiskImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diskimport",
        abstract: "Import disk images: qcow2 or raw, plain or gz/xz/zstd, into a sparse file or a block device.",
        subcommands: [ConvertCommand.self, InfoCommand.self, ImportCommand.self, CronCommand.self]
    )
}
