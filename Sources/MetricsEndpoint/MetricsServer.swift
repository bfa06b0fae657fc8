import DiskImportCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Prometheus

/// Serves one Prometheus registry in the text exposition format over HTTPS: `GET /metrics`.
///
/// The importer's progress counter and the cron controller's outdated gauge both use it. The server runs on its own
/// event-loop thread; callers stay synchronous. `beforeScrape` runs on that thread before each scrape, so values
/// computed from live counters (an import's progress) are current at the moment they are read.
public final class MetricsServer: Sendable {
    /// The port the server listens on (the one asked for, or the one the kernel chose for port 0).
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    private init(port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.port = port
        self.group = group
        self.channel = channel
    }

    /// Starts listening on `host:port` (both IPv6 and IPv4 when `host` is nil, falling back to IPv4 alone where
    /// IPv6 is off) with TLS from `identity`.
    public static func start(registry: PrometheusCollectorRegistry, host: String? = nil, port: Int,
                             identity: SelfSignedIdentity, path: String = "/metrics",
                             beforeScrape: @escaping @Sendable () -> Void = {}) throws -> MetricsServer {
        let tls: NIOSSLContext
        do {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(identity.certificate)], privateKey: .privateKey(identity.privateKey))
            configuration.minimumTLSVersion = .tlsv12
            tls = try NIOSSLContext(configuration: configuration)
        } catch {
            throw DiskImportError(.tls, "metrics server TLS configuration: \(error)")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLServerHandler(context: tls))
                    try pipeline.configureHTTPServerPipeline()
                    try pipeline.addHandler(IdleStateHandler(readTimeout: .seconds(30)))
                    try pipeline.addHandler(MetricsRequestHandler(registry: registry, path: path, beforeScrape: beforeScrape))
                }
            }
        var failure: (any Error)?
        for candidate in host.map({ [$0] }) ?? ["::", "0.0.0.0"] {
            do {
                let channel = try bootstrap.bind(host: candidate, port: port).wait()
                return MetricsServer(port: channel.localAddress?.port ?? port, group: group, channel: channel)
            } catch {
                failure = error
            }
        }
        try? group.syncShutdownGracefully()
        throw DiskImportError(.io, "metrics server: cannot listen on port \(port): \(failure.map { "\($0)" } ?? "no address")")
    }

    /// Stops listening and ends the event-loop thread.
    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}
