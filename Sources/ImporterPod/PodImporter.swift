import DiskImportCore
import Importer
import Logging
import MetricsEndpoint
import Prometheus
import SystemPackage
import Target

#if canImport(Glibc)
import Glibc
#endif

/// Options of `diskimport import` beyond CDI's environment.
public struct PodOptions: Sendable {
    public var paths = PodPaths()
    /// The HTTPS metrics endpoint's port; 0 turns it off.
    public var metricsPort = 8443
    /// Keep serving metrics this long after the import ends, so a last scrape can read the final value.
    public var metricsGracePeriod: Double = 0
    /// How long to wait for IMPORTER_READY_FILE (CDI waits 60 seconds).
    public var readyFileTimeout: Double = 60

    public init() {}
}

/// `diskimport import`: one import as CDI's importer pod does it, from CDI's environment to the termination log.
///
/// Order, as in CDI's cmd/cdi-importer: start the metrics endpoint; check the environment (PREALLOCATION first);
/// a blank disk for source `none`; otherwise wait for the ready file, import through the `Converter` (or extract an
/// archive), touch the done file, and write the termination message.
public final class PodImporter {
    private let environment: [String: String]
    private let options: PodOptions
    private let logger: Logger
    private let progress = TransferProgress()

    public init(environment: [String: String], options: PodOptions, logger: Logger = Log.logger("import")) {
        self.environment = environment
        self.options = options
        self.logger = logger
    }

    /// Runs the import, writes the termination log and returns the exit status.
    public func run() -> Int32 {
        let registry = PrometheusCollectorRegistry()
        let metric = ImportProgressMetric(registry: registry, ownerUID: environment["OWNER_UID"] ?? "", progress: progress)
        let server = startMetricsServer(registry: registry, metric: metric)

        let outcome = importOutcome()
        if outcome.exitCode == 0 { metric.finish() }
        var status = outcome.exitCode
        if let message = outcome.terminationMessage {
            do {
                try TerminationMessage.write(message, to: options.paths.terminationLog)
            } catch {
                logger.error("\(error)")
                status = 1
            }
        }
        if status == 0 {
            logger.info("import complete: \(outcome.terminationMessage ?? "nothing to do")")
        } else {
            logger.error("import failed: \(outcome.terminationMessage ?? "")")
        }
        if let server {
            if options.metricsGracePeriod > 0 { sleepSeconds(options.metricsGracePeriod) }
            server.stop()
        }
        return status
    }

    /// The whole import, every error turned into CDI's termination text.
    func importOutcome() -> PodOutcome {
        let env: ImporterEnvironment
        do {
            env = try ImporterEnvironment(environment)
        } catch {
            return .failure(message(of: error))
        }
        let paths = options.paths
        let block = paths.isBlockMode
        logger.info("""
            importer: source \(env.source.rawValue), content \(env.contentType.rawValue)\
            \(env.endpoint.isEmpty ? "" : ", endpoint \(Redaction.endpoint(env.endpoint))")\
            \(env.imageSize.map { ", size \($0)" } ?? ""), \(block ? "block volume \(paths.blockDevice)" : "filesystem volume \(paths.dataDirectory)")\
            , preallocation \(env.preallocation)
            """)

        if env.source == .blank {
            return blankDisk(env, block: block)
        }
        do {
            try waitForReadyFile(env)
        } catch {
            return .failure(message(of: error))
        }
        do {
            let endpoint = try resolvedEndpoint(env)
            let scratchSpaceRequired: Bool
            let preallocationApplied: Bool
            switch env.contentType {
            case .archive:
                if block {
                    throw DiskImportError.usage("content type archive needs a filesystem volume, and \(paths.blockDevice) is a block volume")
                }
                let request = try PodRequest.convertRequest(env, endpoint: endpoint, paths: paths, block: false)
                try ArchiveImport(request: request, directory: paths.dataDirectory, progress: progress, logger: logger).run()
                (scratchSpaceRequired, preallocationApplied) = (false, false)
            case .kubevirt:
                (scratchSpaceRequired, preallocationApplied) = try convert(env, endpoint: endpoint, block: block)
            }
            touchDoneFile(env)
            return .success(.importComplete(scratchSpaceRequired: scratchSpaceRequired, preallocationApplied: preallocationApplied))
        } catch {
            return .failure("Unable to process data: \(phaseContext(of: error, source: env.source))\(message(of: error))")
        }
    }

    /// The context CDI's data processor puts before an error of the phase it failed in, where ours differs from
    /// none. An image too large for the volume: an http source is validated in the ValidatePreScratch phase, which
    /// adds nothing; every other source in the Convert phase, which wraps the error as "Unable to convert source data
    /// to target format" (pkg/importer/data-processor.go).
    private func phaseContext(of error: any Error, source: ImporterEnvironment.Source) -> String {
        guard let error = error as? DiskImportError, SpaceRules.isLargerPVCRequired(error), source != .http else { return "" }
        return "Unable to convert source data to target format: "
    }

    /// Imports a disk image through the Converter. Returns (scratch space required, preallocation applied); the
    /// Converter's `.scratchRequired` is not an error here: CDI's controller re-runs the pod with a scratch volume.
    private func convert(_ env: ImporterEnvironment, endpoint: String, block: Bool) throws -> (Bool, Bool) {
        let request = try PodRequest.convertRequest(env, endpoint: endpoint, paths: options.paths, block: block)
        do {
            let result = try Converter(request: request, progress: progress, logger: logger).run()
            if !block { try setDiskImageMode() }
            return (false, result.preallocationApplied)
        } catch let error as DiskImportError where error.kind == .scratchRequired {
            logger.info("\(error.message): asking for a scratch volume")
            return (true, false)
        }
    }

    /// CDI's `none` source: a raw disk of `usable(min(free space, IMPORTER_IMAGE_SIZE), overhead)` bytes in
    /// filesystem mode; in block mode, nothing to do without preallocation, and the volume zeroed with it.
    private func blankDisk(_ env: ImporterEnvironment, block: Bool) -> PodOutcome {
        if env.contentType == .archive {
            return .failure("Cannot create empty disk with content type archive")
        }
        if block && !env.preallocation {
            logger.info("blank block volume without preallocation is exactly an empty volume: nothing to do")
            return .success(nil)
        }
        do {
            let request = try PodRequest.blankRequest(env, paths: options.paths, block: block)
            _ = try Converter(request: request, progress: progress, logger: logger).run()
            if !block { try setDiskImageMode() }
            return .success(.blankComplete(preallocationApplied: env.preallocation))
        } catch {
            return .failure("Unable to create blank image: \(message(of: error))")
        }
    }

    /// chmod(2) the disk image to 0660 whatever the umask was: KubeVirt's qemu (group 107, the pod's fsGroup) must
    /// be able to write it.
    private func setDiskImageMode() throws {
        if chmod(options.paths.diskImage, 0o660) != 0 {
            throw DiskImportError.io("chmod 0660", options.paths.diskImage, Errno(rawValue: errno))
        }
    }

    /// IMPORTER_READY_FILE: polls once a second until it exists, as CDI does.
    private func waitForReadyFile(_ env: ImporterEnvironment) throws {
        guard let file = env.readyFile else { return }
        let deadline = MonotonicClock.now() + options.readyFileTimeout
        while !DirectoryListing.exists(file) {
            if MonotonicClock.now() >= deadline { throw DiskImportError.usage("Timeout waiting for file \(file)") }
            sleepSeconds(min(1, max(0.01, deadline - MonotonicClock.now())))
        }
    }

    /// For http with a ready file whose content names an image: that name replaces `disk.img` at the end of the
    /// endpoint (CDI's node-pull sidecar protocol).
    private func resolvedEndpoint(_ env: ImporterEnvironment) throws -> String {
        guard env.source == .http, let file = env.readyFile else { return env.endpoint }
        let name = try DirectoryListing.readSmallFile(file)
        guard !name.isEmpty else { return env.endpoint }
        let base = env.endpoint.hasSuffix("disk.img") ? String(env.endpoint.dropLast("disk.img".count)) : env.endpoint
        return base + name
    }

    /// IMPORTER_DONE_FILE: created (O_CREAT|O_EXCL) after success; a failure is only logged, as in CDI.
    private func touchDoneFile(_ env: ImporterEnvironment) {
        guard let file = env.doneFile else { return }
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        if fd < 0 {
            logger.error("creating done file \(file): \(String(cString: strerror(errno)))")
        } else {
            close(fd)
        }
    }

    private func startMetricsServer(registry: PrometheusCollectorRegistry, metric: ImportProgressMetric) -> MetricsServer? {
        guard options.metricsPort != 0 else { return nil }
        do {
            let identity = try SelfSignedIdentity.generate(commonName: hostName(), alternativeNames: ["localhost", "127.0.0.1", "::1"])
            let server = try MetricsServer.start(registry: registry, port: options.metricsPort, identity: identity,
                                                 beforeScrape: { metric.refresh() })
            logger.info("metrics: https://:\(server.port)/metrics")
            return server
        } catch {
            // CDI's importer logs a metrics endpoint failure and imports all the same.
            logger.warning("metrics endpoint not started: \(error)")
            return nil
        }
    }

    private func message(of error: any Error) -> String {
        guard let error = error as? DiskImportError else { return "\(error)" }
        if error.kind == .checksum && !error.message.contains("checksum mismatch") {
            return "checksum mismatch: \(error.message)"
        }
        return error.message
    }
}

/// gethostname(2); "localhost" when it fails.
func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return name.isEmpty ? "localhost" : name
}

/// nanosleep(2) for `seconds`.
func sleepSeconds(_ seconds: Double) {
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
