import ArgumentParser
import DiskImportCore
import Foundation
import ImporterPod

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Run one import as CDI's importer pod: CDI's environment in, the disk and a termination message out.",
        discussion: """
            Reads IMPORTER_SOURCE, IMPORTER_ENDPOINT, IMPORTER_CONTENTTYPE, IMPORTER_IMAGE_SIZE, PREALLOCATION, \
            FILESYSTEM_OVERHEAD and the rest of CDI's importer environment (README.md lists each variable and what is \
            done with it). Writes /data/disk.img, or /dev/cdi-block-volume when it exists; the flags move every path.
            """)

    @Option(help: "The filesystem volume: the disk is DIR/disk.img, an archive is extracted into DIR.")
    var dataDir = "/data"

    @Option(help: "The block volume; block mode when it exists.")
    var blockDevice = "/dev/cdi-block-volume"

    @Option(help: "The scratch volume, used only when it exists.")
    var scratchDir = "/scratch"

    @Option(help: "Where the termination message goes.")
    var terminationLog = "/dev/termination-log"

    @Option(help: "Directory of CDI's secret extra HTTP headers.")
    var extraHeadersDir = "/extraheaders"

    @Option(help: "HTTPS port of the Prometheus metrics endpoint (/metrics); 0 turns it off.")
    var metricsPort = 8443

    @Option(help: "Seconds to keep serving metrics after the import ends, so a last scrape reads the final value.")
    var metricsGracePeriod: Double = 0

    @Flag(help: "Log debug details too (phases and the summary are logged at info level always).")
    var verbose = false

    @Option(name: .customShort("v"), help: "klog verbosity, as CDI's controller passes it (-v=N); 3 or more also logs debug details.")
    var klogVerbosity: Int?

    func validate() throws {
        guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port must be from 0 to 65535") }
        guard metricsGracePeriod >= 0 else { throw ValidationError("--metrics-grace-period must not be negative") }
    }

    func run() throws {
        bootstrapPodLogging(verbose: verbose, klogVerbosity: klogVerbosity)
        var options = PodOptions()
        options.paths.dataDirectory = dataDir
        options.paths.blockDevice = blockDevice
        options.paths.scratchDirectory = scratchDir
        options.paths.terminationLog = terminationLog
        options.paths.secretHeadersDirectory = extraHeadersDir
        options.metricsPort = metricsPort
        options.metricsGracePeriod = metricsGracePeriod
        let status = PodImporter(environment: ProcessInfo.processInfo.environment, options: options).run()
        if status != 0 { throw ExitCode(status) }
    }
}
