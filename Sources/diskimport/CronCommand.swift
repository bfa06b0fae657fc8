import ArgumentParser
import CronController
import DiskImportCore
import MetricsEndpoint

struct CronCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cron",
        abstract: "Keep golden images current on a schedule: DataImportCron semantics on local storage.",
        subcommands: [CronRunCommand.self, CronTickCommand.self, CronStatusCommand.self])
}

/// Options every cron subcommand shares.
struct CronOptions: ParsableArguments {
    @Option(help: "YAML with DataImportCron objects, a list of them, dataImportCronTemplates, or a HyperConverged object.")
    var config: String

    @Option(help: "Directory holding the volumes, DataSources and status (one controller at a time).")
    var storage: String

    /// Loads the configuration and prints its warnings.
    func load() throws -> CronConfig {
        let loaded = try CronConfigLoader.load(path: config)
        for warning in loaded.warnings { Console.writeError("diskimport: warning: \(warning)\n") }
        return loaded
    }
}

/// Options of the commands that poll and import.
struct CronWorkOptions: ParsableArguments {
    @Option(help: "Directory of Secrets and ConfigMaps laid out as Kubernetes mounts them (DIR/NAME/KEY).")
    var secrets: String?

    @Option(help: "How many crons may import at the same time.")
    var parallel = 1

    @Option(help: "YAML list of storage classes (name, root, default annotations, dataImportCronSourceFormat); default: --storage is the one class \"default\".")
    var storageClasses: String?

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
    }
}

struct CronRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the controller: tick now, then sleep until the next cron is due, forever.")

    @OptionGroup var cron: CronOptions
    @OptionGroup var work: CronWorkOptions

    @Option(help: "Serve kubevirt_cdi_dataimportcron_outdated on this port.")
    var metricsPort: Int?

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        // Before any thread starts: they inherit the blocked stop signals.
        let stopSignals = StopSignals.install()
        try reportingErrors {
            let config = try cron.load()
            let (digestSource, importer) = RegistryBackends.make()
            let controller = try DataImportCronController(
                storage: cron.storage, digestSource: digestSource, importer: importer,
                secrets: SecretsDirectory(root: work.secrets), parallel: work.parallel, storageClassesPath: work.storageClasses)
            var runner = CronRunner(controller: controller, configPath: cron.config)
            var server: MetricsServer?
            if let metricsPort {
                let metric = CronOutdatedMetric(store: controller.store, config: config)
                server = try metric.serve(port: metricsPort, clock: { CronRunner.systemClock() })
                Console.writeError("diskimport: metrics: https://:\(server?.port ?? metricsPort)/metrics\n")
                runner.metric = metric
                stopSignals.onStop { [server] in server?.stop() }
            }
            defer { server?.stop() }
            try runner.run(initial: config)
        }
    }
}

struct CronTickCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tick", abstract: "Evaluate every cron once and exit: poll what is due, import, move DataSources, collect garbage.")

    @OptionGroup var cron: CronOptions
    @OptionGroup var work: CronWorkOptions

    @Option(help: "The time to evaluate at, RFC 3339 (2026-11-23T08:55:00Z); default now.")
    var now: String?

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            let config = try cron.load()
            let at = try now.map(UTCInstant.init(rfc3339:)) ?? CronRunner.systemClock()
            let (digestSource, importer) = RegistryBackends.make()
            let controller = try DataImportCronController(
                storage: cron.storage, digestSource: digestSource, importer: importer,
                secrets: SecretsDirectory(root: work.secrets), parallel: work.parallel, storageClassesPath: work.storageClasses)
            let result = try controller.tick(config, now: at)
            for outcome in result.outcomes { print(describe(outcome)) }
            if !result.errors.isEmpty { throw DiskImportError(.io, result.errors.joined(separator: "; ")) }
        }
    }

    private func describe(_ outcome: CronTickOutcome) -> String {
        // A failed poll has no digest to show.
        let polled = outcome.polled ? outcome.digest.map { "polled \($0), " } ?? "" : ""
        switch outcome.action {
        case .idle: return "\(outcome.cron): not due"
        case .upToDate: return "\(outcome.cron): \(polled)up to date"
        case .imported(let volume): return "\(outcome.cron): \(polled)imported \(volume)"
        case .reused(let volume): return "\(outcome.cron): \(polled)reused \(volume)"
        case .failed(let message): return "\(outcome.cron): \(polled)failed: \(message)"
        case .waiting(let message): return "\(outcome.cron): \(polled)waiting: \(message)"
        case .noDigest: return "\(outcome.cron): no source digest (empty schedule, never polled)"
        }
    }
}

struct CronStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show each cron's conditions, the DataSources and the volumes.")

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case human, json
    }

    @OptionGroup var cron: CronOptions

    @Option(help: "human (tables) or json.")
    var output: Output = .human

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        try reportingErrors {
            let config = try cron.load()
            let report = try CronStatusReport(config: config, store: StateStore(root: cron.storage), now: CronRunner.systemClock())
            switch output {
            case .json: print(report.json().rendered())
            case .human: Console.writeOutput(report.table())
            }
        }
    }
}
