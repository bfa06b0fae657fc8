import Foundation
import Testing

/// System-defined boot sources (the built-in common templates) against a custom one, driven through a
/// HyperConverged object on the real loopback registry: the three system templates are overridden to pull from it.
@Suite(.enabled(if: Fixtures.available, Fixtures.absentReason))
struct CronBootSourceTests {
    static let system = [("centos-stream9-image-cron", "centos-stream9"), ("centos-stream10-image-cron", "centos-stream10"),
                         ("fedora-image-cron", "fedora")]

    /// The HyperConverged object: `gate`, the system templates overridden to `url` (one of them, `disabled`, only
    /// carrying the enable annotation "false"), and a custom template.
    static func hco(url: String, gate: Bool, disabled: String? = nil) -> String {
        let registry = "{url: \"\(url)\", secretRef: regcreds, certConfigMap: registry-ca}"
        var templates = system.map { name, dataSource in
            name == disabled
                ? "  - metadata: {name: \(name), annotations: {dataimportcrontemplate.kubevirt.io/enable: \"false\"}}"
                : """
                  - metadata: {name: \(name)}
                    spec:
                      schedule: "0 */12 * * *"
                      managedDataSource: \(dataSource)
                      template: {spec: {source: {registry: \(registry)}, storage: {resources: {requests: {storage: 4Mi}}}}}
                """
        }
        templates.append("""
              - metadata: {name: custom-image-cron}
                spec:
                  schedule: "0 */12 * * *"
                  managedDataSource: custom
                  template: {spec: {source: {registry: \(registry)}, storage: {resources: {requests: {storage: 4Mi}}}}}
            """)
        return """
            apiVersion: hco.kubevirt.io/v1beta1
            kind: HyperConverged
            metadata: {name: kubevirt-hyperconverged, namespace: openshift-cnv}
            spec:
              featureGates: {enableCommonBootImageImport: \(gate)}
              dataImportCronTemplates:
            \(templates.joined(separator: "\n"))
            """
    }

    @Test func theGateAndTheEnableAnnotationTurnOffSystemBootSourcesOnly() throws {
        let world = try CronWorld("bootsources")
        let a = try world.push("a", disk: try world.makeDisk("A"))
        let hex = a.dropFirst("sha256:".count).prefix(12)
        try world.writeConfig(Self.hco(url: try world.url(), gate: true))
        var tick = try world.tick(CronRegistryTests.times[0])
        #expect(tick.status == 0, "\(tick.stderr)")
        var status = try world.status()
        for (cron, dataSource) in Self.system + [("custom-image-cron", "custom")] {
            #expect(status.dataSource(dataSource)?["volume"] as? String == "\(dataSource)-\(hex)", "\(tick.stdout) \(tick.stderr)")
            #expect(status.cron(cron)?["commonTemplate"] as? Bool == (cron != "custom-image-cron"))
        }

        // One system template disabled by its annotation: it alone goes; its DataSource points at nothing, its volume stays.
        try world.writeConfig(Self.hco(url: try world.url(), gate: true, disabled: "centos-stream10-image-cron"))
        tick = try world.tick(CronRegistryTests.times[1])
        #expect(tick.status == 0, "\(tick.stderr)")
        status = try world.status()
        #expect(status.cron("centos-stream10-image-cron") == nil)
        #expect(status.dataSource("centos-stream10")?["volume"] is NSNull)
        #expect(status.dataSource("centos-stream10")?["ready"] as? Bool == false)
        #expect(status.volume("centos-stream10-\(hex)") != nil)
        #expect(FileManager.default.fileExists(atPath: world.disk("centos-stream10-\(hex)")))
        #expect(status.dataSource("fedora")?["ready"] as? Bool == true)

        // The gate off: every system cron goes, their DataSources are reset, their volumes kept; the custom one stays.
        try world.writeConfig(Self.hco(url: try world.url(), gate: false))
        let b = try world.push("b", disk: try world.makeDisk("B"))
        tick = try world.tick(CronRegistryTests.times[2])
        #expect(tick.status == 0, "\(tick.stderr)")
        status = try world.status()
        for (cron, dataSource) in Self.system {
            #expect(status.cron(cron) == nil)
            #expect(status.dataSource(dataSource)?["ready"] as? Bool == false)
            #expect(status.volume("\(dataSource)-\(hex)") != nil)
        }
        // The custom template polled as usual and moved to B.
        #expect(tick.stdout.contains("custom-image-cron: polled \(b), imported custom-\(b.dropFirst("sha256:".count).prefix(12))"), "\(tick.stdout)")
        #expect(status.cron("custom-image-cron")?["commonTemplate"] as? Bool == false)
        #expect(status.condition("custom-image-cron", "UpToDate")?.status == "True")
    }

    /// A HyperConverged in HCO's v1 layout with multi-arch boot sources, on the fixtures' two-platform index.
    static func multiArch(url: String) -> String {
        let registry = "{url: \"\(url)\", secretRef: regcreds, certConfigMap: registry-ca}"
        return """
            apiVersion: hco.kubevirt.io/v1
            kind: HyperConverged
            metadata: {name: kubevirt-hyperconverged, namespace: openshift-cnv}
            spec:
              workloadSources:
                enableCommonBootImageImport: false
                enableMultiArchBootImageImport: true
                dataImportCronTemplates:
                - metadata:
                    name: twoarch-image-cron
                    annotations: {ssp.kubevirt.io/dict.architectures: "amd64,arm64,s390x"}
                  spec:
                    schedule: "0 */12 * * *"
                    managedDataSource: twoarch
                    template: {spec: {source: {registry: \(registry)}, storage: {resources: {requests: {storage: 8Mi}}}}}
                - metadata:
                    name: mainframe-image-cron
                    annotations: {ssp.kubevirt.io/dict.architectures: s390x}
                  spec:
                    schedule: "0 */12 * * *"
                    managedDataSource: mainframe
                    template: {spec: {source: {registry: \(registry)}}}
            """
    }

    @Test func multiArchBootSourcesImportEachPlatformUnderSspsNames() throws {
        let world = try CronWorld("multiarch-hco")
        let url = "docker://127.0.0.1:\(try world.registry.fixtures["REG_BASIC_PORT"])/containerdisks/test:latest"
        let index = try world.registry.fixtures["DIGEST_INDEX"]
        let hex = index.dropFirst("sha256:".count).prefix(12)
        try world.writeConfig(Self.multiArch(url: url))
        let architectures = ["--architectures", "amd64,arm64"]
        let tick = try world.tick(CronRegistryTests.times[0], architectures)
        #expect(tick.status == 0, "\(tick.stdout) \(tick.stderr)")
        for arch in ["amd64", "arm64"] {
            let volume = "twoarch-\(arch)-\(hex)"
            #expect(tick.stdout.contains("twoarch-image-cron-\(arch): polled \(index), imported \(volume)"), "\(tick.stdout)")
            // Each cron pulled its own platform from the index.
            let oracle = try world.registry.oracle(arch)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: oracle)[.size] as? Int)
            #expect(try Harness.run("cmp", ["-n", String(size), oracle, world.disk(volume)]).status == 0, "\(arch)")
        }
        #expect(!tick.stdout.contains("mainframe"), "\(tick.stdout)")

        let status = try world.status(architectures)
        #expect(status.cronNames == ["twoarch-image-cron-amd64", "twoarch-image-cron-arm64"])
        #expect(status.dataSource("twoarch-arm64")?["volume"] as? String == "twoarch-arm64-\(hex)")
        // The unsuffixed DataSource is the default (first) architecture's.
        let reference = try #require(status.dataSource("twoarch"))
        #expect(reference["reference"] as? String == "twoarch-amd64")
        #expect(reference["path"] as? String == world.disk("twoarch-amd64-\(hex)"))
        #expect(reference["ready"] as? Bool == true)
        let twoArch = try #require(status.template("twoarch-image-cron")?["status"] as? [String: Any])
        #expect(twoArch["originalSupportedArchitectures"] as? String == "amd64,arm64,s390x")
        #expect(status.template("twoarch-image-cron")?["architectures"] as? String == "amd64,arm64")
        // No architecture of the cluster: Deployed=False / UnsupportedArchitectures, and no cron.
        let mainframe = try #require(status.template("mainframe-image-cron")?["status"] as? [String: Any])
        #expect(mainframe["originalSupportedArchitectures"] as? String == "s390x")
        let condition = try #require((mainframe["conditions"] as? [[String: Any]])?.first)
        #expect(condition["type"] as? String == "Deployed" && condition["status"] as? String == "False")
        #expect(condition["reason"] as? String == "UnsupportedArchitectures")
        #expect(condition["message"] as? String == "DataImportCronTemplate has no supported architectures for the current cluster")
        #expect(status.template("mainframe-image-cron")?["crons"] as? [String] == [])
        let human = try Harness.run(Harness.binary, ["cron", "status", "--config", world.configPath, "--storage", world.storage] + architectures)
        #expect(human.stdout.contains("False (UnsupportedArchitectures)"), "\(human.stdout)")
        #expect(human.stdout.contains("→ twoarch-amd64"), "\(human.stdout)")
    }
}
