import DiskImportCore
import Foundation
import MetricsEndpoint
import Prometheus
import Testing
@testable import ImporterPod

/// Runs curl (the client Prometheus users reach for) and returns its output and exit status.
func curl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-sS", "--max-time", "10"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite struct MetricsServerTests {
    @Test func selfSignedIdentityIsAP256ServerCertificate() throws {
        let identity = try SelfSignedIdentity.generate(commonName: "importer-pod", alternativeNames: ["localhost", "127.0.0.1", "::1"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cert-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try identity.certificatePEM.write(toFile: dir + "/cert.pem", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["x509", "-in", dir + "/cert.pem", "-noout", "-text"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(text.contains("Subject: CN = importer-pod"))
        #expect(text.contains("Issuer: CN = importer-pod"))
        #expect(text.contains("prime256v1"))
        #expect(text.contains("ecdsa-with-SHA256"))
        #expect(text.contains("DNS:importer-pod, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"))
        #expect(text.contains("TLS Web Server Authentication"))
        #expect(text.contains("CA:FALSE"))
    }

    @Test func servesTheRegistryOverHTTPS() throws {
        let registry = PrometheusCollectorRegistry()
        let gauge = registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "kubevirt_cdi", metricName: "dataimportcron", unitName: "outdated",
                                             helpText: "DataImportCron has an outdated import"),
            labels: [("cron_name", "fedora")])
        gauge.set(to: 1.0)
        let scrapes = Counted()
        let server = try MetricsServer.start(registry: registry, host: "127.0.0.1", port: 0,
                                             identity: try SelfSignedIdentity.generate(commonName: "localhost"),
                                             beforeScrape: { scrapes.add() })
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)"

        let scrape = try curl(["-k", "-D", "-", url + "/metrics"])
        #expect(scrape.status == 0)
        #expect(scrape.output.contains("HTTP/1.1 200 OK"))
        #expect(scrape.output.lowercased().contains("content-type: text/plain; version=0.0.4; charset=utf-8"))
        #expect(scrape.output.contains("# TYPE kubevirt_cdi_dataimportcron_outdated gauge"))
        #expect(scrape.output.contains(#"kubevirt_cdi_dataimportcron_outdated{cron_name="fedora"} 1"#))
        #expect(scrapes.value == 1)

        #expect(try curl(["-k", "-o", "/dev/null", "-w", "%{http_code}", url + "/other"]).output == "404")
        #expect(try curl(["-k", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", url + "/metrics"]).output == "405")
        // Without -k the self-signed certificate is refused, so the server really speaks TLS.
        #expect(try curl([url + "/metrics"]).status == 60)
        // Several scrapes on one kept-alive connection.
        let twice = try curl(["-k", url + "/metrics", url + "/metrics?x=1"])
        #expect(twice.output.components(separatedBy: "# TYPE").count == 3)
    }

    @Test func aTakenPortIsAClearError() throws {
        let identity = try SelfSignedIdentity.generate(commonName: "localhost")
        let first = try MetricsServer.start(registry: PrometheusCollectorRegistry(), host: "127.0.0.1", port: 0, identity: identity)
        defer { first.stop() }
        #expect(throws: DiskImportError.self) {
            try MetricsServer.start(registry: PrometheusCollectorRegistry(), host: "127.0.0.1", port: first.port, identity: identity)
        }
    }

    @Test func progressMetricRisesToOneHundred() throws {
        let registry = PrometheusCollectorRegistry()
        let progress = TransferProgress()
        let metric = ImportProgressMetric(registry: registry, ownerUID: "uid-1", progress: progress)
        progress.setSourceTotal(3000)
        func value() -> String {
            metric.refresh()
            let line = registry.emitToString().split(separator: "\n").first { $0.hasPrefix("kubevirt_cdi_import_progress_total{") }
            return line.map { String($0.split(separator: " ").last ?? "") } ?? "none"
        }
        #expect(registry.emitToString().contains("# TYPE kubevirt_cdi_import_progress_total counter"))
        #expect(value() == "0.0" || value() == "0")
        progress.addSourceBytes(1370)
        #expect(value() == "45.66")
        progress.addSourceBytes(1630)
        #expect(value() == "100.0")
        metric.finish()
        #expect(value() == "100.0")
        #expect(registry.emitToString().contains(#"kubevirt_cdi_import_progress_total{ownerUID="uid-1"} 100.0"#))
    }
}

/// A thread-safe count for callbacks.
final class Counted: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
