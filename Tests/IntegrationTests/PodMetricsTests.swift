import Foundation
import Testing

/// The progress counter on the pod's HTTPS metrics endpoint, scraped with curl while an import runs.
@Suite struct PodMetricsTests {
    /// A plain HTTP server on loopback that sends one file slowly (64 KiB every 50 ms), so an import of it lasts
    /// long enough to be watched. It writes its port to `portFile` once listening.
    static let slowServer = #"""
    import http.server, os, sys, time
    path, port_file = sys.argv[1], sys.argv[2]
    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            size = os.path.getsize(path)
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            with open(path, "rb") as f:
                while chunk := f.read(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    time.sleep(0.05)
        def log_message(self, *args): pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Slow)
    with open(port_file + ".tmp", "w") as f: f.write(str(server.server_port))
    os.rename(port_file + ".tmp", port_file)
    server.timeout = 60
    server.handle_request()
    """#

    @Test func progressRisesToOneHundredDuringAnImport() throws {
        let pod = try PodWorld()
        let image = pod.dir.file("disk.raw")
        // 2 MiB of data: 32 chunks, about 1.6 s on the wire.
        try Harness.tool("dd", "if=/dev/urandom", "of=\(image)", "bs=1M", "count=2", "status=none")
        let portFile = pod.dir.file("server.port")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", Self.slowServer, image, portFile]
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        let serverPort = try waitForPortFile(portFile)

        pod.metricsPort = try freeLoopbackPort()
        let metricsURL = "https://127.0.0.1:\(pod.metricsPort)/metrics"
        let importer = try pod.start(["IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": "http://127.0.0.1:\(serverPort)/disk.raw",
                                      "IMPORTER_CONTENTTYPE": "kubevirt", "IMPORTER_IMAGE_SIZE": "8Mi", "OWNER_UID": "pod-uid-7",
                                      "PREALLOCATION": "false", "FILESYSTEM_OVERHEAD": "0.055"],
                                     ["--metrics-grace-period", "3"])
        defer { if importer.isRunning { importer.terminate() } }

        // Scrape every 100 ms until the importer is gone; keep every value read.
        var values: [Double] = []
        var sawType = false
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let scrape = try Harness.run("curl", ["-sk", "--max-time", "2", metricsURL])
            if scrape.status == 0 {
                sawType = sawType || scrape.stdout.contains("# TYPE kubevirt_cdi_import_progress_total counter")
                if let value = Self.progress(in: scrape.stdout, ownerUID: "pod-uid-7") { values.append(value) }
                if values.last == 100 { break }
            } else if !importer.isRunning {
                break
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let outcome = pod.outcome(of: importer)

        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.termination == #"{"scratchSpaceRequired":false,"preallocationApplied":false,"message":"Import Complete"}"#)
        #expect(sawType)
        #expect(values.last == 100)
        #expect(values.contains { $0 > 0 && $0 < 100 }, "no value between 0 and 100 in \(values)")
        #expect(zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }, "progress went down: \(values)")
        // The 2 MiB image, grown to usable(8Mi, 0.055) = 7 MiB, the rest zeros.
        let size = try FileManager.default.attributesOfItem(atPath: pod.diskImage)[.size] as? Int
        #expect(size == 7 << 20)
        #expect(try Harness.tool("cmp", "-n", String(2 << 20), image, pod.diskImage).status == 0)
    }

    /// The value of kubevirt_cdi_import_progress_total{ownerUID="…"}, read the way CDI's controller reads it.
    static func progress(in text: String, ownerUID: String) -> Double? {
        let prefix = "kubevirt_cdi_import_progress_total{ownerUID=\"\(ownerUID)\"} "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return Double(line.dropFirst(prefix.count))
    }
}

/// Waits (at most 10 s) for a server to write its port to `path`.
func waitForPortFile(_ path: String) throws -> Int {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let port = Int(text) { return port }
        Thread.sleep(forTimeInterval: 0.02)
    }
    throw HarnessError("server did not start (no \(path))")
}
