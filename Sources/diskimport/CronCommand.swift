import ArgumentParser
import CronController
import DiskImportCore
import MetricsEndpoint
import Target

struct CronCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cron",
        abstract: "Keep golden images current on a schedule: DataImportCron semantics on local storage.",
        subcommands: [CronRunCommand.self, CronTickCommand.self, CronStatusCommand.self])
}

/// Options every cron subcommand shares: a command line that works with `tick` works with `status` and `run`.
struct CronOptions: ParsableArguments {
    @Option(help: "YAML with DataImportCron objects, a list of them, dataImportCronTemplates, or a HyperConverged object.")
    var config: String

    @Option(help: ArgumentHelp(
        "Directory holding the volumes, DataSources and status (one controller at a time).",
        discussion: "It must hold cron state (DIR/state/), except on the first tick or run: then DIR may be new, "
            + "inside an existing directory, or an empty directory, and is created. A missing parent or a directory "
            + "of other files is an error, so a mistyped path creates nothing."))
    var storage: String

    @Option(help: "Directory of Secrets and ConfigMaps laid out as Kubernetes mounts them (DIR/NAME/KEY).")
    var secrets: String?

    @Option(help: "YAML list of storage classes (name, root, default annotations, dataImportCronSourceFormat); default: --storage is the one class \"default\".")
    var storageClasses: String?

    @Option(help: ArgumentHelp(
        "The cluster's architectures, in order, for a HyperConverged object's enableMultiArchBootImageImport (default: this machine's).",
        valueName: "amd64,arm64"))
    var architectures: String?

    @Option(help: OverheadArithmetic.help)
    var overheadArithmetic: OverheadArithmetic = .current

    /// `--architectures` as a list: registry (Go) names such as amd64, arm64, s390x.
    func architectureList() throws -> [String] {
        guard let architectures else { return CronConfigLoader.defaultArchitectures }
        let list = architectures.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
        for arch in list where arch.isEmpty || !arch.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }) {
            throw ValidationError("--architectures \"\(architectures)\": each architecture is a name such as amd64, arm64 or s390x")
        }
        return list
    }

    func validate() throws { _ = try architectureList() }

    /// Loads the configuration and prints its warnings.
    func load() throws -> CronConfig {
        let loaded = try CronConfigLoader.load(path: config, architectures: try architectureList())
        for warning in loaded.warnings { Console.writeError("diskimport: warning: \(warning)\n") }
        return loaded
    }

    /// The controller of `tick` and `run`; says so when this is STORAGE's first run, so a typo shows.
    func controller(parallel: Int) throws -> DataImportCronController {
        let (poller, importer) = SourceBackends.make()
        let controller = try DataImportCronController(
            storage: storage, poller: poller, importer: importer,
            secrets: SecretsDirectory(root: secrets), parallel: parallel, storageClassesPath: storageClasses,
            overheadArithmetic: overheadArithmetic)
        if controller.isFirstRun {
            Console.writeError("diskimport: first run: cron state created in \(controller.store.root)\n")
        }
        return controller
    }
}

/// Options of the commands that poll and import.
struct CronWorkOptions: ParsableArguments {
    @Option(help: "How many crons may import at the same time.")
    var parallel = 1

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

    @Option(help: .hidden)  // For the soak and tests: the controller's clock runs this many times as fast.
    var clockScale: Double?

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.bootstrapLogging()
        // Before any thread starts: they inherit the blocked stop signals.
        let stopSignals = StopSignals.install()
        try reportingErrors {
            let config = try cron.load()
            let controller = try cron.controller(parallel: work.parallel)
            var runner = CronRunner(controller: controller, configPath: cron.config)
            runner.architectures = try cron.architectureList()
            var server: MetricsServer?
            if let metricsPort {
                let metric = CronOutdatedMetric(store: controller.store, config: config)
                server = try metric.serve(port: metricsPort, clock: { CronRunner.systemClock() })
                Console.writeError("diskimport: metrics: https://:\(server?.port ?? metricsPort)/metrics\n")
                runner.metric = metric
                stopSignals.onStop { [server] in server?.stop() }
            }
            defer { server?.stop() }
            if let clockScale {
                guard clockScale >= 1 else { throw DiskImportError.usage("--clock-scale must be at least 1") }
                let clock = ScaledClock(scale: clockScale)
                try runner.run(initial: config, clock: clock.now, sleep: clock.sleep)
            } else {
                try runner.run(initial: config)
            }
        }
    }
}

struct CronTickCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tick", abstract: "Evaluate every cron once and exit: poll what is due, import, move DataSources, collect garbage.",
        discussion: "Prints one line per cron. Exits 1 when any cron's poll or import failed (its line says why), 0 otherwise; "
            + "a cron waiting for a storage class is not a failure.")

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
            let controller = try cron.controller(parallel: work.parallel)
            let result = try controller.tick(config, now: at)
            // Each failure is its cron's line; the exit status tells a script or a systemd unit that one failed.
            for outcome in result.outcomes { print(describe(outcome)) }
            let failed = result.failedCrons
            if !failed.isEmpty {
                throw DiskImportError(.io, "\(failed.count) of \(result.outcomes.count) crons failed: \(failed.joined(separator: ", "))")
            }
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
            if let classes = cron.storageClasses { _ = try StorageClasses.load(path: classes) }
            let store = StateStore(root: try StorageDirectory.existing(cron.storage))
            let report = try CronStatusReport(config: config, store: store, now: CronRunner.systemClock())
            switch output {
            case .json: print(report.json().rendered())
            case .human: Console.writeOutput(report.table())
            }
        }
    }
}
