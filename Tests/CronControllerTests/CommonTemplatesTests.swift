import DiskImportCore
import Foundation
import Testing

@testable import CronController

@Suite struct CommonTemplatesTests {
    static func hco(gate: Bool? = nil, templates: String = "") -> String {
        """
        apiVersion: hco.kubevirt.io/v1beta1
        kind: HyperConverged
        metadata: {name: kubevirt-hyperconverged}
        spec:
        \(gate.map { "  featureGates: {enableCommonBootImageImport: \($0)}" } ?? "")
          dataImportCronTemplates:
          - metadata: {name: my-debian-cron}
            spec:
              schedule: "0 3 * * *"
              managedDataSource: debian
              template: {spec: {source: {registry: {url: "docker://registry.local/debian:12"}}}}
        \(templates)
        """
    }

    @Test func builtInTemplatesAreHcosSystemBootSources() throws {
        let system = try CommonTemplates.builtIn()
        #expect(system.map(\.name) == ["centos-stream9-image-cron", "centos-stream10-image-cron", "fedora-image-cron"])
        #expect(system.allSatisfy { $0.commonTemplate && $0.garbageCollect == .outdated && $0.importsToKeep == 1 })
        #expect(system.map(\.managedDataSource) == ["centos-stream9", "centos-stream10", "fedora"])
        #expect(system[2].source.url == "docker://quay.io/containerdisks/fedora:latest")
        #expect(system[2].storage.size == 5 << 30)
    }

    @Test func enabledByDefaultAndTheGateRemovesOnlySystemTemplates() throws {
        let on = try CronConfigLoader.parse(yaml: Self.hco(), source: "hco")
        #expect(on.crons.map(\.name) == ["centos-stream9-image-cron", "centos-stream10-image-cron", "fedora-image-cron", "my-debian-cron"])
        #expect(on.crons.map(\.commonTemplate) == [true, true, true, false])
        let off = try CronConfigLoader.parse(yaml: Self.hco(gate: false), source: "hco")
        #expect(off.crons.map(\.name) == ["my-debian-cron"])
        // A plain DataImportCron file gets no system templates.
        let plain = try CronConfigLoader.parse(yaml: CronConfigTests.fullCron, source: "plain")
        #expect(plain.crons.map(\.commonTemplate) == [false])
    }

    @Test func aTemplateCanDisableOrOverrideOneSystemTemplate() throws {
        let templates = """
              - metadata:
                  name: centos-stream10-image-cron
                  annotations: {dataimportcrontemplate.kubevirt.io/enable: "false"}
              - metadata: {name: fedora-image-cron}
                spec:
                  schedule: "15 4 * * *"
                  managedDataSource: fedora
                  template:
                    spec:
                      source: {registry: {url: "docker://quay.io/containerdisks/fedora:41"}}
                      storage: {storageClassName: fast, resources: {requests: {storage: 8Gi}}}
            """
        let config = try CronConfigLoader.parse(yaml: Self.hco(templates: templates), source: "hco")
        #expect(config.crons.map(\.name) == ["centos-stream9-image-cron", "fedora-image-cron", "my-debian-cron"])
        let fedora = config.crons[1]
        #expect(fedora.commonTemplate)
        #expect(fedora.schedule?.expression == "15 4 * * *")
        #expect(fedora.storage.storageClassName == "fast")
        #expect(fedora.source.url == "docker://quay.io/containerdisks/fedora:41")
    }

    @Test func turningTheGateOffResetsTheDataSourcesAndKeepsTheVolumes() throws {
        let f = try Fixture()
        let on = try CronConfigLoader.parse(yaml: Self.hco(), source: "hco")
        for cron in on.crons { f.registry.push(cron.source.url, digest("a")) }
        try f.tick(on, at: "2026-11-23T00:00:00Z")
        #expect(try f.store.dataSource("fedora")?.volume == "fedora-aaaaaaaaaaaa")
        #expect(try f.store.cron("fedora-image-cron")?.commonTemplate == true)

        let off = try CronConfigLoader.parse(yaml: Self.hco(gate: false), source: "hco")
        try f.tick(off, at: "2026-11-23T00:01:00Z")
        #expect(try f.store.cron("fedora-image-cron") == nil)
        #expect(try f.store.dataSource("fedora") == DataSourceRecord(name: "fedora", cron: "fedora-image-cron", volume: nil, ready: false,
                                                                       updated: time("2026-11-23T00:00:00Z")))
        #expect(try f.volumes(of: "fedora-image-cron") == ["fedora-aaaaaaaaaaaa"])
        // The custom template is untouched.
        #expect(try f.store.dataSource("debian")?.volume == "debian-aaaaaaaaaaaa")
        #expect(try f.store.cron("my-debian-cron")?.condition("UpToDate")?.isTrue == true)
    }
}
