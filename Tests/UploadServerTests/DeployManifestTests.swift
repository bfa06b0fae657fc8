import Foundation
import Testing
import Yams
@testable import UploadServer

/// deploy/upload-server.yaml cannot be applied here; what can be checked is that it says what the server reads and
/// mounts what CDI's upload controller mounts.
@Suite struct UploadDeployManifestTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")

    func documents() throws -> [[String: Any]] {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("upload-server.yaml"), encoding: .utf8)
        return try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
    }

    func container() throws -> [String: Any] {
        let pod = try #require(try documents().first { $0["kind"] as? String == "Pod" })
        let containers = try #require((pod["spec"] as? [String: Any])?["containers"] as? [[String: Any]])
        return try #require(containers.first { $0["name"] as? String == "cdi-upload-server" })
    }

    @Test func podEnvironmentParsesAsCDIsUploadServerEnvironment() throws {
        let entries = try #require(try container()["env"] as? [[String: Any]])
        var environment: [String: String] = [:]
        for entry in entries { environment[try #require(entry["name"] as? String)] = entry["value"].map { "\($0)" } }
        let env = try UploadServerEnvironment(environment)
        #expect(env.tlsCertFile == "/etc/tls/tls.crt" && env.tlsKeyFile == "/etc/tls/tls.key")
        #expect(env.clientCertFile == "/etc/tls/ca.crt")
        #expect(env.clientName == "client.upload-server.cdi.kubevirt.io")
        #expect(env.imageSize == 10 << 30 && !env.preallocation)
        #expect(env.crypto.unknownCiphers.isEmpty && env.crypto.cipherSuites.count == 4)
        #expect(env.deadline != nil && env.listenPort == 8443)
    }

    @Test func podMountsCDIsPathsAndProbesHealthz() throws {
        let container = try container()
        let mounts = try #require(container["volumeMounts"] as? [[String: Any]]).compactMap { $0["mountPath"] as? String }
        #expect(mounts.contains("/data") && mounts.contains("/etc/tls/"))
        let probe = try #require((container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])
        #expect(probe["path"] as? String == "/healthz" && probe["port"] as? Int == 8443 && probe["scheme"] as? String == "HTTPS")
        #expect(container["args"] as? [String] == ["-v=1"])
        let service = try #require(try documents().first { $0["kind"] as? String == "Service" })
        let ports = try #require((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]])
        #expect(ports.first?["targetPort"] as? Int == 8443)
    }

    @Test func containerfileHasAnUploadServerStage() throws {
        let text = try String(contentsOf: Self.deploy.appendingPathComponent("Containerfile"), encoding: .utf8)
        #expect(text.contains("FROM runtime AS upload-server\nENTRYPOINT [\"/usr/bin/diskimport\", \"upload-server\"]"))
        // The importer stays the default (last) stage.
        #expect(text.hasSuffix("ENTRYPOINT [\"/usr/bin/diskimport\", \"import\"]\n"))
    }
}
