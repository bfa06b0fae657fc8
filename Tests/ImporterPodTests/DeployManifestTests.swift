import Foundation
import Testing
import Yams
@testable import ImporterPod

/// deploy/ cannot be built or applied here; what can be checked is that it says what the importer reads.
@Suite struct DeployManifestTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")

    /// The importer container of the Job in deploy/importer-job.yaml.
    func importerContainer() throws -> [String: Any] {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("importer-job.yaml"), encoding: .utf8)
        let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
        let job = try #require(documents.first { $0["kind"] as? String == "Job" })
        let spec = try #require(((job["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        let containers = try #require(spec["containers"] as? [[String: Any]])
        return try #require(containers.first { $0["name"] as? String == "importer" })
    }

    @Test func jobEnvironmentParsesAsCDIsImporterEnvironment() throws {
        let container = try importerContainer()
        let entries = try #require(container["env"] as? [[String: Any]])
        var environment: [String: String] = [:]
        for entry in entries {
            let name = try #require(entry["name"] as? String)
            // Secret references resolve in the cluster; here any value stands for them.
            environment[name] = entry["value"].map { "\($0)" } ?? (entry["valueFrom"] != nil ? "from-secret-\(name)" : "")
        }
        let parsed = try ImporterEnvironment(environment)
        #expect(parsed.source == .http)
        #expect(parsed.endpoint.hasPrefix("https://"))
        #expect(parsed.contentType == .kubevirt)
        #expect(parsed.imageSize == 10 << 30)
        #expect(parsed.filesystemOverhead.description == "0.055")
        #expect(!parsed.preallocation && !parsed.insecureTLS)
        #expect(parsed.checksum?.algorithm == .sha256)
        #expect(parsed.extraHeaders.map(\.name) == ["X-Request-Source"])
        #expect(parsed.credentials?.user == "from-secret-IMPORTER_ACCESS_KEY_ID")
        #expect(parsed.certificateDirectory == "/certs")
        #expect(!parsed.ownerUID.isEmpty)
        // Every variable the Job sets is one the importer knows.
        let known = Set(EnvironmentVariable.all.map(\.name))
        #expect(environment.keys.filter { !known.contains($0) && !$0.hasPrefix(HeaderLine.environmentPrefix) } == [])
    }

    @Test func jobMountsCDIsPathsAndServesMetricsOn8443() throws {
        let container = try importerContainer()
        let mounts = try #require(container["volumeMounts"] as? [[String: Any]]).compactMap { $0["mountPath"] as? String }
        #expect(mounts.contains(PodPaths().dataDirectory))
        #expect(mounts.contains(PodPaths().scratchDirectory))
        let ports = try #require(container["ports"] as? [[String: Any]])
        #expect(ports.contains { $0["containerPort"] as? Int == PodOptions().metricsPort })
        #expect(container["args"] as? [String] == ["-v=1"])
        #expect(container["terminationMessagePolicy"] as? String == "FallbackToLogsOnError")
    }

    @Test func containerfileInstallsTheRuntimeLibrariesAndRunsImport() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("Containerfile"), encoding: .utf8)
        for package in ["libcurl4", "liblzma5", "libzstd1", "libxxhash0", "libarchive13", "libdeflate0", "libisal2", "zlib1g", "libssl3"] {
            #expect(text.contains(" \(package) ") || text.contains(" \(package)\n"), "runtime stage lacks \(package)")
        }
        #expect(text.contains("FROM docker.io/library/debian:12-slim"))
        #expect(text.contains("--static-swift-stdlib"))
        #expect(text.contains(#"ENTRYPOINT ["/usr/bin/diskimport", "import"]"#))
    }
}
