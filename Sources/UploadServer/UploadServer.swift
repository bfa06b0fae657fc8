import CronController
import DiskImportCore
import Fetch
import Importer
import ImporterPod
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// Options of `diskimport upload-server` beyond CDI's environment: where the volumes are.
public struct UploadServerOptions: Sendable {
    /// The data volume, block volume, scratch volume and termination log (the pod's paths by default).
    public var paths = PodPaths()
    /// Seconds a connection may sit idle between requests before it is closed.
    public var idleTimeout: Double = 120
    /// Seconds to go on answering after the upload ended (409 to late uploads) before the server exits; 0 (CDI's
    /// behaviour) shuts down at once.
    public var gracePeriod: Double = 0

    public init() {}
}

/// `diskimport upload-server`: CDI's upload server (cmd/cdi-uploadserver, pkg/uploadserver). Serves CDI's endpoints
/// and tus over HTTPS until one upload is complete (termination message "Upload Complete", exit 0), an acknowledged
/// upload fails (exit 1), or DEADLINE passes first ("Deadline Passed", exit 0).
public final class UploadServer {
    private let environment: [String: String]
    private let options: UploadServerOptions
    private let logger: Logger

    public init(environment: [String: String], options: UploadServerOptions, logger: Logger = Log.logger("upload-server")) {
        self.environment = environment
        self.options = options
        self.logger = logger
    }

    /// Serves until the upload ends; writes the termination log; returns the exit status.
    public func run() -> Int32 {
        let outcome: UploadServerOutcome
        do {
            outcome = try serve()
        } catch {
            logger.error("UploadServer failed: \(error)")
            return 1
        }
        let message: TerminationMessage
        switch outcome {
        case .complete(let result):
            message = TerminationMessage(preallocationApplied: result.preallocationApplied, message: "Upload Complete")
        case .deadlinePassed:
            message = TerminationMessage(deadlinePassed: true, message: "Deadline Passed")
        case .failed(let failure):
            logger.error("UploadServer failed: \(failure.reason)")
            return 1
        }
        do {
            try TerminationMessage.write(try message.rendered(), to: options.paths.terminationLog)
        } catch {
            logger.error("\(error)")
            return 1
        }
        logger.info("UploadServer successfully exited")
        return 0
    }

    /// The disk's path: DESTINATION, with CDI's two defaults moved where the flags say.
    static func destination(_ env: UploadServerEnvironment, paths: PodPaths) -> String {
        switch env.destination {
        case nil, "/data/disk.img"?: return paths.diskImage
        case "/dev/cdi-block-volume"?: return paths.blockDevice
        case let other?: return other
        }
    }

    private func serve() throws -> UploadServerOutcome {
        let env = try UploadServerEnvironment(environment)
        for name in env.crypto.unknownCiphers { logger.warning("TLS_CIPHERS: unknown cipher suite \(name) ignored") }
        if let version = env.crypto.unknownVersion { logger.warning("TLS_MIN_VERSION \(version) unknown: TLS 1.2 is the minimum") }
        let tls = try UploadTLS.context(certificateFile: env.tlsCertFile, keyFile: env.tlsKeyFile,
                                       clientCAFile: env.clientCertFile, crypto: env.crypto)
        let paths = options.paths
        let importer = VolumeImporter(destination: Self.destination(env, paths: paths), dataDirectory: paths.dataDirectory,
                                      scratchDirectory: paths.scratch, requestedSize: env.imageSize,
                                      overhead: env.filesystemOverhead, preallocation: env.preallocation, logger: logger)
        let authorizer = ClientAuthorizer(clientName: env.clientName)

        let ended = OutcomeBox()
        // One event-loop thread: TLS and HTTP parsing on it, the import on its own thread; the upload's state is
        // confined to this loop.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let logger = self.logger
        let coordinator = try loop.submit {
            NIOLoopBound(UploadCoordinator(loop: loop, importer: importer, logger: logger, finish: { ended.set($0) }), eventLoop: loop)
        }.wait()
        let idleTimeout = options.idleTimeout
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Socket reads of at most 64 KiB: NIOSSL decrypts a whole read into one buffer, which the body's slices
            // keep alive, so a 1 MiB read grew a fresh buffer by copies and page faults every time. Measured on a
            // 300 MB qcow2 upload: 64 KiB reads 0.52 CPU-s and 1.2 s, 1 MiB reads 1.0 CPU-s and 2.3 s (256 KiB: 0.56).
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 << 10, maximum: 64 << 10))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLServerHandler(context: tls))
                    try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                    try pipeline.addHandler(UploadRequestHandler(coordinator: coordinator.value, authorizer: authorizer,
                                                                 logger: logger, idleTimeout: idleTimeout))
                }
            }
        let host = env.listenAddress.isEmpty ? "::" : env.listenAddress
        let server: any Channel
        do {
            server = try bootstrap.bind(host: host, port: env.listenPort).wait()
        } catch {
            throw DiskImportError(.io, "Error creating upload listener: listen tcp \(env.listenAddress):\(env.listenPort): \(error)")
        }
        logger.info("Running server on \(env.listenAddress):\(server.localAddress?.port ?? env.listenPort)")
        if let deadline = env.deadline {
            let seconds = max(0, deadline.secondsSinceEpoch - Int64(time(nil)))
            loop.scheduleTask(in: .seconds(seconds)) { coordinator.value.deadlineReached() }
        }
        let outcome = ended.wait()
        if options.gracePeriod > 0 { Monotonic.sleep(options.gracePeriod) }
        logger.info("Shutting down http server")
        try? server.close().wait()
        return outcome
    }
}

/// The outcome, handed from the event loop to the thread that runs the server.
private final class OutcomeBox: Sendable {
    private let monitor = Monitor()
    nonisolated(unsafe) private var value: UploadServerOutcome?

    func set(_ outcome: UploadServerOutcome) {
        monitor.locked {
            if value == nil { value = outcome }
            monitor.broadcast()
        }
    }

    func wait() -> UploadServerOutcome {
        monitor.locked {
            while value == nil { monitor.wait() }
            return value!
        }
    }
}
