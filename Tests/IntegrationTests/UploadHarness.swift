import Foundation
import Testing

/// The certificates of the upload tests (scripts/fixtures/gen-upload-pki), made once per test run.
enum UploadPKI {
    static let directory: String = {
        let base = (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/diskimport-upload-pki-\(getpid())"
        _ = try? Harness.tool(Qcow2Matrix.repositoryRoot + "/scripts/fixtures/gen-upload-pki", base)
        return base
    }()

    static func file(_ name: String) -> String { directory + "/" + name }
    static let clientName = "client.upload-server.cdi.kubevirt.io"
}

/// One upload server's world: a data volume directory, an optional scratch directory, a termination log, and
/// `diskimport upload-server` started with CDI's environment on a free loopback port.
final class UploadWorld {
    let dir: TemporaryDirectory
    var dataDirectory: String { dir.path + "/data" }
    var diskImage: String { dataDirectory + "/disk.img" }
    var scratchDirectory: String { dir.path + "/scratch" }
    var terminationLog: String { dir.path + "/termination-log" }
    var blockDevice: String { dir.path + "/cdi-block-volume" }
    var stderrFile: String { dir.path + "/server.stderr" }
    let port: Int
    private(set) var process: Process?

    init() throws {
        dir = try TemporaryDirectory()
        port = try freeLoopbackPort()
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var baseURL: String { "https://127.0.0.1:\(port)" }

    /// CDI's environment for this world, with `extra` on top (a nil value removes a variable).
    func environment(_ extra: [String: String?] = [:]) -> [String: String] {
        var env: [String: String] = [
            "TLS_CERT_FILE": UploadPKI.file("server.crt"), "TLS_KEY_FILE": UploadPKI.file("server.key"),
            "CLIENT_CERT_FILE": UploadPKI.file("client-ca.crt"), "CLIENT_NAME": UploadPKI.clientName,
            "LISTEN_ADDRESS": "127.0.0.1", "LISTEN_PORT": String(port),
            "FILESYSTEM_OVERHEAD": "0", "PREALLOCATION": "false",
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
        ]
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Starts the server and waits until /healthz answers.
    @discardableResult
    func start(_ extra: [String: String?] = [:], arguments: [String] = [], measured: Bool = false) throws -> Process {
        let process = Process()
        let serverArguments = ["upload-server", "--data-dir", dataDirectory, "--block-device", blockDevice,
                               "--scratch-dir", scratchDirectory, "--termination-log", terminationLog] + arguments
        if measured {
            // Under GNU time: peakRSSKiB once the server has exited.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
            process.arguments = ["-o", dir.file("rss"), "-f", "%M", Harness.binary] + serverArguments
        } else {
            process.executableURL = URL(fileURLWithPath: Harness.binary)
            process.arguments = serverArguments
        }
        process.environment = environment(extra)
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrFile))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(30)
        while try curl(["\(baseURL)/healthz"]).status != 200 {
            guard process.isRunning, Date() < deadline else {
                throw HarnessError("upload server did not come up: \(serverLog)")
            }
            usleep(50_000)
        }
        return process
    }

    var serverLog: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }

    /// The peak RSS of a server started `measured`, after it exited.
    var peakRSSKiB: Int {
        Int((try? String(contentsOfFile: dir.file("rss"), encoding: .utf8))?.split(separator: "\n").last ?? "") ?? .max
    }

    struct Outcome {
        var status: Int32
        var termination: String?
        var log: String
    }

    /// Waits (at most `seconds`) for the server to exit.
    func outcome(within seconds: Double = 60) throws -> Outcome {
        guard let process else { throw HarnessError("no server started") }
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw HarnessError("upload server did not exit within \(seconds) s: \(serverLog)")
            }
            usleep(20_000)
        }
        let outcome = Outcome(status: process.terminationStatus,
                              termination: try? String(contentsOfFile: terminationLog, encoding: .utf8), log: serverLog)
        SecretScan.expectNone(in: [("upload server log", outcome.log), ("termination message", outcome.termination)])
        return outcome
    }

    var isRunning: Bool { process?.isRunning ?? false }

    struct Response {
        var status: Int
        var body: String
        var headers: String
        var stderr: String
    }

    enum Identity { case proxy, wrongName, stranger, none }

    /// curl against the server (trusting its CA) as `identity`; the status is 0 when no HTTP answer came.
    func curl(_ arguments: [String], as identity: Identity = .none) throws -> Response {
        let out = dir.file("curl-body-\(UUID().uuidString)"), head = dir.file("curl-head-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: head)
        }
        var args = ["-s", "-S", "--max-time", "120", "--cacert", UploadPKI.file("ca.crt"), "-o", out, "-D", head, "-w", "%{http_code}"]
        switch identity {
        case .proxy: args += ["--cert", UploadPKI.file("client.crt"), "--key", UploadPKI.file("client.key")]
        case .wrongName: args += ["--cert", UploadPKI.file("wrong-cn.crt"), "--key", UploadPKI.file("wrong-cn.key")]
        case .stranger: args += ["--cert", UploadPKI.file("stranger.crt"), "--key", UploadPKI.file("stranger.key")]
        case .none: break
        }
        let result = try Harness.run("curl", args + arguments)
        return Response(status: Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0,
                        body: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                        headers: (try? String(contentsOfFile: head, encoding: .utf8)) ?? "", stderr: result.stderr)
    }

    /// POSTs `file` to `path` as the upload proxy does.
    func post(_ file: String, to path: String = "/v1beta1/upload", headers: [String] = []) throws -> Response {
        try curl(["-X", "POST", "--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream"]
                 + headers.flatMap { ["-H", $0] } + [baseURL + path], as: .proxy)
    }

    /// Names in the data directory (what an upload left behind).
    func dataEntries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dataDirectory).sorted()
    }
}

extension LoopbackScript {
    /// scripts/fault-proxy in front of `world`, cutting connection k after `cuts[k-1]` client bytes (0: never).
    static func faultProxy(for world: UploadWorld, clientCuts cuts: [Int]) throws -> LoopbackScript {
        try LoopbackScript("scripts/fault-proxy", ["--target", "127.0.0.1:\(world.port)",
                                                   "--client-cuts", cuts.map(String.init).joined(separator: ",")])
    }

    /// scripts/fixtures/upload-proxy.py (CDI's upload proxy: checks the Bearer token, forwards with the client
    /// certificate) in front of `world`.
    static func uploadProxy(for world: UploadWorld, tokenFile: String) throws -> LoopbackScript {
        try LoopbackScript("scripts/fixtures/upload-proxy.py", [
            "--upstream", world.baseURL, "--tls-cert", UploadPKI.file("server.crt"), "--tls-key", UploadPKI.file("server.key"),
            "--upstream-ca", UploadPKI.file("ca.crt"), "--client-cert", UploadPKI.file("client.crt"),
            "--client-key", UploadPKI.file("client.key"), "--token-file", tokenFile,
        ])
    }
}

/// Disk images for upload tests, and what qemu-img makes of them.
enum UploadImages {
    /// A raw disk of `mib` MiB: runs of random bytes and distinct text with a hole between, so a block placed at the
    /// wrong offset never matches.
    static func raw(in dir: TemporaryDirectory, mib: Int, name: String = "disk.raw") throws -> String {
        let path = dir.file(name)
        let half = max(1, mib / 2)
        try Harness.tool("sh", "-c", """
            { head -c \(half * 256 * 1024) /dev/urandom; seq -f 'upload %09g' 1 \(half * 60000) | head -c \(half * 768 * 1024); \
              head -c \((mib - half) * 1048576) /dev/zero; } > '\(path)'; truncate -s \(mib)M '\(path)'
            """)
        return path
    }

    /// `raw` as a qcow2 written by qemu-img (tables before the data they map).
    static func qcow2(_ raw: String, compressed: Bool = false) throws -> String {
        let path = raw + (compressed ? ".z.qcow2" : ".qcow2")
        try Harness.tool("qemu-img", "convert", "-f", "raw", "-O", "qcow2", compressed ? "-c" : "-W", raw, path)
        return path
    }

    /// `path` through gzip, xz or zstd.
    static func wrapped(_ path: String, _ tool: String) throws -> String {
        let suffix = ["gzip": ".gz", "xz": ".xz", "zstd": ".zst"][tool] ?? "." + tool
        try Harness.tool("sh", "-c", "\(tool) -c -1 '\(path)' > '\(path)\(suffix)'")
        return path + suffix
    }

    /// What `qemu-img convert -O raw` writes for `image` (through its compression, peeled first).
    static func oracle(_ image: String, in dir: TemporaryDirectory) throws -> String {
        var plain = image
        for (suffix, tool) in [(".gz", "gzip"), (".xz", "xz"), (".zst", "zstd")] where image.hasSuffix(suffix) {
            plain = dir.file("oracle-input")
            try Harness.tool("sh", "-c", "\(tool) -dc '\(image)' > '\(plain)'")
        }
        let out = dir.file("oracle-\(UUID().uuidString).raw")
        try Harness.tool("qemu-img", "convert", "-O", "raw", plain, out)
        return out
    }
}
