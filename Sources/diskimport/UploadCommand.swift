import ArgumentParser
import DiskImportCore
import Fetch
import Importer

struct UploadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload a disk image to CDI's upload proxy or an upload server, as virtctl image-upload does, resumably.",
        discussion: """
            URL is the upload proxy (https://cdi-uploadproxy.example) or an upload server; /v1beta1/upload-async is \
            used when a HEAD of it answers 200 (else /v1beta1/upload), unless the URL names a path already. When the \
            server speaks tus 1.0 (diskimport upload-server does), a broken connection resumes where the server \
            stopped; otherwise the whole file is sent again, up to --retries times.
            """)

    @Argument(help: "The disk image to upload (raw or qcow2, plain or gz/xz/zstd; a tar for an archive volume).")
    var file: String

    @Argument(help: "The upload proxy's or upload server's URL.")
    var url: String

    @Option(help: ArgumentHelp("A file holding the upload token (sent as Authorization: Bearer; never printed).", valueName: "file"))
    var tokenFile: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("A PEM file of extra CAs to trust (repeatable).", valueName: "file"))
    var caFiles: [String] = []

    @Flag(help: "Do not verify the server's TLS certificate (dangerous: prints a warning).")
    var insecure = false

    @Option(help: ArgumentHelp("A client certificate (PEM), to talk to an upload server directly.", valueName: "file"))
    var clientCert: String?

    @Option(help: ArgumentHelp("The client certificate's private key (PEM).", valueName: "file"))
    var clientKey: String?

    @Option(help: ArgumentHelp("The image's digest, verified by the server before the disk is committed: sha256:HEX (or md5, sha1, sha512).", valueName: "algo:hex"))
    var checksum: String?

    @Option(help: ArgumentHelp("Whole-file attempts without tus; reconnects in a row without progress with tus.", valueName: "n"))
    var retries = 5

    @Option(help: ArgumentHelp("Seconds without progress before a connection is dropped (and resumed).", valueName: "seconds"))
    var stallTimeout: Double = 30

    @Flag(help: "Never use tus: always virtctl's plain POST of the whole file.")
    var noResume = false

    @Flag(inversion: .prefixedNo, help: "Show a progress bar (default: when stderr is a terminal).")
    var progress: Bool?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard retries >= 1 else { throw ValidationError("--retries must be at least 1") }
        guard stallTimeout > 0 else { throw ValidationError("--stall-timeout must be positive") }
        guard (clientCert == nil) == (clientKey == nil) else { throw ValidationError("--client-cert and --client-key go together") }
    }

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            var http = HTTPOptions()
            http.caFiles = caFiles
            http.insecure = insecure
            http.stallTimeout = stallTimeout
            http.retries = retries
            var options = UploadClientOptions()
            options.token = try tokenFile.map(UploadClientOptions.token(fromFile:))
            options.checksum = try checksum.map(Checksum.init(parsing:))
            options.retries = retries
            options.resumable = !noResume
            if let clientCert, let clientKey {
                options.clientCertificate = ClientCertificate(certificateFile: clientCert, keyFile: clientKey)
            }
            let counters = TransferProgress()
            let client = try UploadClient(file: file, url: url, options: options, http: http, progress: counters)
            let display = (progress ?? ProgressDisplay.standardErrorIsTerminal) ? ProgressDisplay(progress: counters) : nil
            let summary: UploadSummary
            do {
                defer { display?.stop() }
                summary = try client.run()
                // Off a terminal, the last progress line says the upload is complete (as convert's does).
                display?.finish()
            }
            let how = summary.resumable
                ? "tus" + (summary.interruptions > 0 ? ", resumed \(summary.interruptions) times" : "")
                : "plain POST" + (summary.interruptions > 0 ? ", \(summary.interruptions) retries" : "")
            Console.writeOutput("uploaded \(file) (\(summary.bytes) bytes) to \(DisplayURL.redacted(summary.url)) (\(how))\n")
        }
    }
}
