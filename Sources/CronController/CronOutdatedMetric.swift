import DiskImportCore
import Foundation
import MetricsEndpoint
import Prometheus

/// `kubevirt_cdi_dataimportcron_outdated{namespace,cron_name,pending}` for `cron run --metrics-port`: one gauge per
/// configured cron, 1 unless its UpToDate condition is True, as CDI's controller exports it.
///
/// Values are read from the store on every scrape (on the metrics server's thread: records are replaced
/// atomically, so a scrape never sees a torn one), so an import that starts or fails mid-tick shows at once.
public final class CronOutdatedMetric: @unchecked Sendable {
    public static var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "kubevirt", subsystem: "cdi", metricName: "dataimportcron_outdated", unitName: "",
                             helpText: "DataImportCron has an outdated import")
    }

    public let registry = PrometheusCollectorRegistry()
    private let store: StateStore
    private let lock = NSLock()
    private var config: CronConfig
    /// The gauges registered, by their label values, so a cron gone from the configuration (or whose `pending`
    /// flipped) loses its old series.
    private var gauges: [CronStatusReport.OutdatedSample.Labels: Gauge] = [:]

    public init(store: StateStore, config: CronConfig) {
        self.store = store
        self.config = config
    }

    /// The configuration `cron run` re-read: the crons whose samples exist.
    public func update(_ config: CronConfig) { lock.withLock { self.config = config } }

    /// Brings the gauges in line with the store.
    public func refresh(now: UTCInstant) {
        lock.withLock {
            guard let report = try? CronStatusReport(config: config, store: store, now: now) else { return }
            var seen = Set<CronStatusReport.OutdatedSample.Labels>()
            for sample in report.outdatedSamples() {
                let labels = sample.labels
                seen.insert(labels)
                let gauge = gauges[labels] ?? registry.makeGauge(
                    descriptor: Self.descriptor,
                    labels: [("namespace", labels.namespace), ("cron_name", labels.cron), ("pending", labels.pending ? "true" : "false")])
                gauges[labels] = gauge
                gauge.set(Double(sample.value))
            }
            for (labels, gauge) in gauges where !seen.contains(labels) {
                registry.unregisterGauge(gauge)
                gauges[labels] = nil
            }
        }
    }

    /// Serves the gauge over HTTPS (a self-signed certificate, as the importer's endpoint) at `/metrics`.
    public func serve(port: Int, clock: @escaping @Sendable () -> UTCInstant) throws -> MetricsServer {
        refresh(now: clock())
        let identity = try SelfSignedIdentity.generate(commonName: "localhost", alternativeNames: ["localhost", "127.0.0.1", "::1"])
        return try MetricsServer.start(registry: registry, port: port, identity: identity) { [self] in refresh(now: clock()) }
    }
}

extension CronStatusReport.OutdatedSample {
    public struct Labels: Hashable, Sendable {
        public var namespace: String
        public var cron: String
        public var pending: Bool
    }

    public var labels: Labels { Labels(namespace: namespace, cron: cron, pending: pending) }
}
