import DiskImportCore
import Prometheus
import Synchronization

/// `kubevirt_cdi_import_progress_total{ownerUID="…"}`: the import's completion in percent (0 to 100), a counter as in
/// CDI's importer, whose controller reads it from the pod's metrics endpoint to fill the DataVolume's progress.
///
/// The value is computed from the live `TransferProgress` whenever the endpoint is scraped (`refresh` runs on the
/// server's one event-loop thread just before the registry is written out), so every scrape sees the current
/// percentage, and the counter is only ever touched on that thread.
public final class ImportProgressMetric: Sendable {
    public static var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "kubevirt", subsystem: "cdi", metricName: "import_progress", unitName: "total",
            helpText: "The import progress in percentage")
    }

    private let counter: Counter
    private let progress: TransferProgress
    private let state = Mutex(State())

    private struct State {
        /// Hundredths of a percent last published; the counter never goes down.
        var published: Int64 = 0
        var finished = false
    }

    public init(registry: PrometheusCollectorRegistry, ownerUID: String, progress: TransferProgress) {
        counter = registry.makeCounter(descriptor: Self.descriptor, labels: [("ownerUID", ownerUID)])
        self.progress = progress
    }

    /// Marks the import done: the next scrape reads 100.
    public func finish() {
        state.withLock { $0.finished = true }
    }

    /// Publishes the current percentage, rounded down to hundredths (an exact decimal on the wire: 45.67, never
    /// 45.670000000000002).
    public func refresh() {
        state.withLock { state in
            let hundredths = state.finished ? 10_000 : Int64((progress.fraction * 10_000).rounded(.down))
            guard hundredths > state.published else { return }
            state.published = min(hundredths, 10_000)
            counter.reset()
            counter.increment(by: Double(state.published) / 100)
        }
    }
}
