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
}
