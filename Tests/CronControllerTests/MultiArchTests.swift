import DiskImportCore
import Foundation
import Testing

@testable import CronController

/// HCO's two layouts of one HyperConverged, and multi-architecture boot sources (HCO's golden_images.go, SSP's
/// data-sources reconcile).
@Suite struct MultiArchTests {
    static let templates = """
        - metadata:
            name: fedora-image-cron
            annotations: {ssp.kubevirt.io/dict.architectures: "arm64,s390x,amd64"}
          spec:
            managedDataSource: fedora
            template: {spec: {source: {registry: {url: "docker://registry.local/fedora:latest"}}}}
        - metadata:
            name: zos-image-cron
            annotations: {ssp.kubevirt.io/dict.architectures: s390x}
          spec:
            schedule: "0 1 * * *"
            managedDataSource: zos
            template: {spec: {source: {registry: {url: "docker://registry.local/zos:latest"}}}}
        - metadata: {name: plain-image-cron}
          spec:
            schedule: "0 2 * * *"
            managedDataSource: plain
            template: {spec: {source: {http: {url: "https://mirror.local/plain.qcow2"}}}}
        """

    static func indented(_ text: String, _ spaces: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { String(repeating: " ", count: spaces) + $0 }.joined(separator: "\n")
    }

    static let v1beta1 = """
        apiVersion: hco.kubevirt.io/v1beta1
        kind: HyperConverged
        metadata: {name: kubevirt-hyperconverged}
        spec:
          enableCommonBootImageImport: true
          commonBootImageNamespace: golden
          featureGates: {enableMultiArchBootImageImport: true}
          scratchSpaceStorageClass: scratch
          filesystemOverhead: {global: "0.07"}
          dataImportCronTemplates:
        \(indented(templates, 2))
        """

    static let v1 = """
        apiVersion: hco.kubevirt.io/v1
        kind: HyperConverged
        metadata: {name: kubevirt-hyperconverged}
        spec:
          storage:
            scratchSpaceStorageClass: scratch
            filesystemOverhead: {global: "0.07"}
          workloadSources:
            enableCommonBootImageImport: true
            enableMultiArchBootImageImport: true
            commonBootImageNamespace: golden
            dataImportCronTemplates:
        \(indented(templates, 4))
        """

    /// What a configuration amounts to, as comparable text.
    static func summary(_ config: CronConfig) -> [String] {
        config.crons.map { c in
            "\(c.name) ds=\(c.managedDataSource) ns=\(c.namespace ?? "-") url=\(c.source.url) arch=\(c.source.registry?.architecture ?? "-") "
                + "schedule=\(c.schedule?.expression ?? "-") keep=\(c.importsToKeep) retention=\(c.retentionPolicy.rawValue) "
                + "common=\(c.commonTemplate) modified=\(c.modified) labels=\(c.labels.sorted { $0.key < $1.key })"
        } + config.templates.map { "\($0)" } + config.dataSourceReferences.map { "\($0)" }
            + ["\(config.hyperConverged.map { "\($0)" } ?? "-")"]
    }

    @Test func theV1AndV1beta1LayoutsReadTheSame() throws {
        let old = try CronConfigLoader.parse(yaml: Self.v1beta1, source: "v1beta1", architectures: ["amd64", "arm64"])
        let new = try CronConfigLoader.parse(yaml: Self.v1, source: "v1", architectures: ["amd64", "arm64"])
        #expect(old.warnings.isEmpty, "\(old.warnings)")
        #expect(new.warnings.isEmpty, "\(new.warnings)")
        #expect(Self.summary(old) == Self.summary(new))
        #expect(new.hyperConverged?.enableMultiArchBootImageImport == true)
        #expect(new.hyperConverged?.scratchSpaceStorageClass == "scratch")
        #expect(new.hyperConverged?.globalFilesystemOverhead?.description == "0.07")
        // v1's deprecated feature-gate list entry turns multi-arch on too.
        let gate = Self.v1.replacingOccurrences(of: "    enableMultiArchBootImageImport: true\n", with: "")
            .replacingOccurrences(of: "spec:\n  storage:", with: "spec:\n  featureGates: [{name: enableMultiArchBootImageImport}]\n  storage:")
        #expect(Self.summary(try CronConfigLoader.parse(yaml: gate, source: "v1", architectures: ["amd64", "arm64"])) == Self.summary(new))
    }

    @Test func whereBothLayoutsSayItV1WinsWithAWarning() throws {
        let both = Self.v1.replacingOccurrences(of: "spec:\n  storage:", with: """
            spec:
              enableCommonBootImageImport: false
              dataImportCronTemplates:
              - metadata: {name: old-cron}
                spec: {managedDataSource: old, template: {spec: {source: {registry: {url: "docker://r/old"}}}}}
              storage:
            """)
        let config = try CronConfigLoader.parse(yaml: both, source: "hco", architectures: ["amd64"])
        #expect(config.hyperConverged?.enableCommonBootImageImport == true)
        #expect(!config.crons.contains { $0.name == "old-cron" })
        #expect(config.warnings.count == 2, "\(config.warnings)")
        #expect(config.warnings.contains {
            $0.contains("spec.dataImportCronTemplates (v1beta1) and spec.workloadSources.dataImportCronTemplates (v1) are both set; using spec.workloadSources.dataImportCronTemplates")
        }, "\(config.warnings)")
        #expect(config.warnings.contains { $0.contains("spec.enableCommonBootImageImport (v1beta1)") }, "\(config.warnings)")
    }

    @Test func oneCronAndOneDataSourcePerArchitectureWithSspsNames() throws {
        let config = try CronConfigLoader.parse(yaml: Self.v1, source: "v1", architectures: ["amd64", "arm64"])
        let fedora = config.crons.filter { $0.name.hasPrefix("fedora-image-cron") }
        // The annotation's order (arm64,s390x,amd64), only the cluster's architectures.
        #expect(fedora.map(\.name) == ["fedora-image-cron-arm64", "fedora-image-cron-amd64"])
        #expect(fedora.map(\.managedDataSource) == ["fedora-arm64", "fedora-amd64"])
        #expect(fedora.map { $0.source.registry?.architecture } == ["arm64", "amd64"])
        #expect(fedora.allSatisfy { $0.commonTemplate && $0.modified && $0.namespace == nil })
        #expect(fedora.allSatisfy { $0.labels["cdi.kubevirt.io/storage.import.datasource-name"] == "fedora" })
        #expect(fedora.map { $0.labels["template.kubevirt.io/architecture"] } == ["arm64", "amd64"])
        #expect(fedora.allSatisfy { $0.annotations["ssp.kubevirt.io/dict.architectures"] == nil })
        // The unsuffixed name points at the first cluster architecture the template has.
        #expect(config.dataSourceReferences.contains(DataSourceReference(name: "fedora", target: "fedora-amd64")))
        let status = try #require(config.templates.first { $0.name == "fedora-image-cron" })
        #expect(status.originalSupportedArchitectures == "arm64,s390x,amd64")
        #expect(status.supportedArchitectures == "arm64,amd64")
        #expect(status.deployed && status.crons == ["fedora-image-cron-arm64", "fedora-image-cron-amd64"])
        // The untouched common templates are split too; the custom one without the annotation is not.
        #expect(config.crons.contains { $0.name == "centos-stream9-image-cron-amd64" && $0.namespace == "golden" })
        #expect(config.crons.contains { $0.name == "plain-image-cron" && $0.managedDataSource == "plain" })
        #expect(config.templates.first { $0.name == "plain-image-cron" }?.originalSupportedArchitectures == nil)
    }

    @Test func aTemplateWithoutTheClustersArchitecturesIsNotDeployed() throws {
        let config = try CronConfigLoader.parse(yaml: Self.v1, source: "v1", architectures: ["amd64", "arm64"])
        let zos = try #require(config.templates.first { $0.name == "zos-image-cron" })
        #expect(!zos.deployed && zos.crons.isEmpty)
        #expect(zos.originalSupportedArchitectures == "s390x" && zos.supportedArchitectures == "")
        #expect(!config.crons.contains { $0.managedDataSource.hasPrefix("zos") })
        // On s390x it is.
        let s390x = try CronConfigLoader.parse(yaml: Self.v1, source: "v1", architectures: ["s390x"])
        #expect(s390x.crons.contains { $0.name == "zos-image-cron-s390x" })
        #expect(s390x.dataSourceReferences.contains(DataSourceReference(name: "fedora", target: "fedora-s390x")))
    }

    @Test func multiArchOffMakesOneCronPerTemplate() throws {
        let off = Self.v1.replacingOccurrences(of: "enableMultiArchBootImageImport: true", with: "enableMultiArchBootImageImport: false")
        let config = try CronConfigLoader.parse(yaml: off, source: "v1", architectures: ["amd64", "arm64"])
        #expect(config.crons.map(\.name) == ["centos-stream10-image-cron", "centos-stream9-image-cron", "fedora-image-cron",
                                            "plain-image-cron", "zos-image-cron"])
        #expect(config.dataSourceReferences.isEmpty)
        #expect(config.templates.allSatisfy { $0.deployed && $0.originalSupportedArchitectures == nil })
    }

    @Test func theReferenceFollowsTheDefaultArchitecturesDataSource() throws {
        let f = try Fixture()
        let config = try CronConfigLoader.parse(yaml: Self.v1, source: "v1", architectures: ["amd64", "arm64"])
        for cron in config.crons { f.registry.push(cron.source.url, digest("a")) }
        try f.tick(config, at: "2026-11-23T00:00:00Z")
        #expect(Set(f.importer.requests.filter { $0.cron.hasPrefix("fedora") }.compactMap { $0.source.registry?.architecture }) == ["amd64", "arm64"])
        let amd64 = try #require(try f.store.dataSource("fedora-amd64"))
        #expect(amd64.volume == "fedora-amd64-aaaaaaaaaaaa" && amd64.ready)
        let reference = try #require(try f.store.dataSource("fedora"))
        #expect(reference.reference == "fedora-amd64" && reference.cron.isEmpty)
        #expect(reference.volume == amd64.volume && reference.path == amd64.path && reference.ready)

        // Multi-arch turned off: the template's one cron manages `fedora` itself again.
        let off = Self.v1.replacingOccurrences(of: "enableMultiArchBootImageImport: true", with: "enableMultiArchBootImageImport: false")
        let single = try CronConfigLoader.parse(yaml: off, source: "v1", architectures: ["amd64", "arm64"])
        try f.tick(single, at: "2026-11-23T00:01:00Z")
        let managed = try #require(try f.store.dataSource("fedora"))
        #expect(managed.reference == nil && managed.cron == "fedora-image-cron" && managed.volume == "fedora-aaaaaaaaaaaa")
        #expect(try f.store.cron("fedora-image-cron-amd64") == nil)
    }
}
