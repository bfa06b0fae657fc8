import ArgumentParser
import DiskImportCore
import Fetch

/// Flags for http(s):// and docker:// sources, shared by convert and info.
struct NetworkOptions: ParsableArguments {
    @Option(name: .customLong("ca-file"), help: ArgumentHelp("A PEM file of extra CAs to trust (repeatable).", valueName: "file"))
    var caFiles: [String] = []

    @Option(help: ArgumentHelp("Trust every *.crt and *.pem file in this directory as a CA.", valueName: "dir"))
    var certDir: String?

    @Flag(help: "Do not verify TLS certificates (dangerous: prints a warning).")
    var insecure = false

    @Option(help: "User name for Basic authentication (with --password-file).")
    var user: String?

    @Option(help: ArgumentHelp("A file holding the password for --user (passwords are never taken on the command line).", valueName: "file"))
    var passwordFile: String?

    @Option(name: .customLong("header"), help: ArgumentHelp("An extra request header 'Name: value' (repeatable).", valueName: "header"))
    var headers: [String] = []

    @Option(help: ArgumentHelp("Proxy URL (default: the http_proxy, https_proxy and no_proxy variables).", valueName: "url"))
    var proxy: String?

    @Option(help: ArgumentHelp("Seconds allowed for the TCP connect and TLS handshake of each attempt.", valueName: "seconds"))
    var connectTimeout: Double = HTTPOptions().connectTimeout

    @Option(help: ArgumentHelp("Seconds from a request to the first line of its response before the attempt is given up.", valueName: "seconds"))
    var firstByteTimeout: Double = HTTPOptions().firstByteTimeout

    @Option(help: ArgumentHelp("Seconds without data, once a response has begun, before the connection is dropped and resumed.", valueName: "seconds"))
    var stallTimeout: Double = HTTPOptions().stallTimeout

    @Option(help: ArgumentHelp("Reconnects allowed after failures in a row (each is announced on stderr, with back-off).", valueName: "n"))
    var retries: Int = HTTPOptions().retries

    @Option(help: ArgumentHelp("Seconds after which failures in a row get no further retry.", valueName: "seconds"))
    var retryMaxTime: Double = HTTPOptions().retryMaxTime

    @Flag(help: "Read a qcow2 over HTTP with ranged requests (only metadata and allocated clusters) instead of streaming it.")
    var httpRandomAccess = false

    @Option(help: ArgumentHelp("The platform to take from a multi-platform registry image: ARCH or ARCH/VARIANT (default: this machine's).", valueName: "arch"))
    var arch: String?

    /// The HTTP options these flags describe.
    func httpOptions() throws -> HTTPOptions {
        var options = HTTPOptions()
        options.caFiles = caFiles
        if let certDir { try options.addCertificateDirectory(certDir) }
        options.insecure = insecure
        switch (user, passwordFile) {
        case (let user?, let file?): options.credentials = try Credentials(user: user, passwordFile: file)
        case (_?, nil): throw DiskImportError.usage("--user needs --password-file (passwords are not taken on the command line)")
        case (nil, _?): throw DiskImportError.usage("--password-file needs --user")
        case (nil, nil): break
        }
        options.headers = try headers.map(HTTPHeader.init(parsing:))
        options.proxy = try proxy.map(HTTPOptions.checkedProxy)
        for (flag, value) in [("--connect-timeout", connectTimeout), ("--first-byte-timeout", firstByteTimeout),
                              ("--stall-timeout", stallTimeout), ("--retry-max-time", retryMaxTime)] {
            guard value > 0, value.isFinite else {
                let shown = value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
                throw DiskImportError.usage("\(flag) \(shown): must be a positive number of seconds")
            }
        }
        guard retries >= 0 else { throw DiskImportError.usage("--retries must not be negative") }
        options.connectTimeout = connectTimeout
        options.firstByteTimeout = firstByteTimeout
        options.stallTimeout = stallTimeout
        options.retries = retries
        options.retryMaxTime = retryMaxTime
        options.randomAccess = httpRandomAccess
        return options
    }

    /// `--arch` as a platform; nil when not given (the machine's own is used).
    func platform() throws -> RegistryPlatform? {
        try arch.map(RegistryPlatform.init(parsingArchitecture:))
    }
}
