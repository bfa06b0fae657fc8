import ArgumentParser
import DiskImportCore
import Foundation
import UploadServer

struct UploadServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload-server",
        abstract: "Run CDI's upload server: receive one disk image over HTTPS and write it as the volume's raw disk.",
        discussion: """
            Reads CDI's upload server environment: LISTEN_ADDRESS, LISTEN_PORT (8443), DESTINATION, TLS_CERT_FILE, \
            TLS_KEY_FILE, CLIENT_CERT_FILE, CLIENT_NAME, UPLOAD_IMAGE_SIZE, FILESYSTEM_OVERHEAD, PREALLOCATION, \
            DISKIMPORT_OVERHEAD_ARITHMETIC (v1.63 or v1.62: the CDI release whose arithmetic sizes the disk), \
            TLS_CIPHERS, TLS_MIN_VERSION and DEADLINE (README.md describes each). Serves CDI's endpoints \
            (/v1beta1/upload, upload-async, upload-form, upload-form-async, upload-archive, the v1alpha1 aliases, \
            /healthz) and tus 1.0 resumable uploads on the raw ones; exits once the upload is complete.
            """)

    @Option(help: "The filesystem volume: the disk is DIR/disk.img, an archive is extracted into DIR.")
    var dataDir = "/data"

    @Option(help: "The block volume (DESTINATION=/dev/cdi-block-volume writes here).")
    var blockDevice = "/dev/cdi-block-volume"

    @Option(help: "The scratch volume, used only when it exists.")
    var scratchDir = "/scratch"

    @Option(help: "Where the termination message goes.")
    var terminationLog = "/dev/termination-log"

    @Option(help: "Seconds a connection may be idle between requests before it is closed.")
    var idleTimeout: Double = 120

    @Option(help: "Seconds to go on answering (409 to late uploads) after the upload ended, before exiting.")
    var gracePeriod: Double = 0

    @Flag(help: "Log debug details too.")
    var verbose = false

    @Option(name: .customShort("v"), help: "klog verbosity, as CDI's controller passes it (-v=N); 3 or more also logs debug details.")
    var klogVerbosity: Int?

    func validate() throws {
        guard idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
        guard gracePeriod >= 0 else { throw ValidationError("--grace-period must not be negative") }
    }

    func run() throws {
        bootstrapPodLogging(verbose: verbose, klogVerbosity: klogVerbosity)
        var options = UploadServerOptions()
        options.paths.dataDirectory = dataDir
        options.paths.blockDevice = blockDevice
        options.paths.scratchDirectory = scratchDir
        options.paths.terminationLog = terminationLog
        options.idleTimeout = idleTimeout
        options.gracePeriod = gracePeriod
        let status = UploadServer(environment: ProcessInfo.processInfo.environment, options: options).run()
        if status != 0 { throw ExitCode(status) }
    }
}
