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
        \(gate.map { "  enableCommonBootImageImport: \($0)" } ?? "")
          dataImportCronTemplates:
          - metadata: {name: my-debian-cron}
            spec:
              schedule: "0 3 * * *"
              managedDataSource: debian
              template: {spec: {source: {registry: {url: "docker://registry.local/debian:12"}}}}
        \(templates)
        """
    }

    /// HCO's three, sorted by name as HCO sorts them, then the custom one.
    static let allNames = ["centos-stream10-image-cron", "centos-stream9-image-cron", "fedora-image-cron", "my-debian-cron"]

    @Test func builtInTemplatesAreHcosSystemBootSourcesWithItsDefaults() throws {
        let system = try CommonTemplates.builtIn()
        #expect(system.map(\.name) == ["centos-stream9-image-cron", "centos-stream10-image-cron", "fedora-image-cron"])
        // ensureDICTFields: importsToKeep 1 and retentionPolicy None where the file sets neither.
        #expect(system.allSatisfy { $0.commonTemplate && $0.garbageCollect == .outdated && $0.importsToKeep == 1 })
        #expect(system.allSatisfy { $0.retentionPolicy == RetentionPolicy.none && $0.usesCommonSchedule && !$0.modified })
        #expect(system.map(\.managedDataSource) == ["centos-stream9", "centos-stream10", "fedora"])
        #expect(system[2].source.url == "docker://quay.io/containerdisks/fedora:latest")
        #expect(system[2].storage.size == 5 << 30)
        #expect(system[2].annotations[HyperConvergedTemplates.architecturesAnnotation] == "arm64,s390x,amd64")
    }

    @Test func enabledByDefaultAndTheGateRemovesOnlySystemTemplates() throws {
        let on = try CronConfigLoader.parse(yaml: Self.hco(), source: "hco")
        #expect(on.crons.map(\.name) == Self.allNames)
        #expect(on.crons.map(\.commonTemplate) == [true, true, true, false])
        // Without multi-arch boot sources the architectures annotation never reaches a cron.
        #expect(on.crons.allSatisfy { $0.annotations[HyperConvergedTemplates.architecturesAnnotation] == nil })
        let off = try CronConfigLoader.parse(yaml: Self.hco(gate: false), source: "hco")
        #expect(off.crons.map(\.name) == ["my-debian-cron"])
        // A plain DataImportCron file gets no system templates.
        let plain = try CronConfigLoader.parse(yaml: CronConfigTests.fullCron, source: "plain")
        #expect(plain.crons.map(\.commonTemplate) == [false])
    }

    @Test func aTemplateCanDisableOrModifyOneSystemTemplate() throws {
        let templates = """
              - metadata:
                  name: centos-stream10-image-cron
                  annotations: {dataimportcrontemplate.kubevirt.io/enable: "false"}
              - metadata: {name: fedora-image-cron}
                spec:
                  managedDataSource: fedora
                  template:
                    spec:
                      source: {registry: {url: "docker://quay.io/containerdisks/fedora:41"}}
                      storage: {storageClassName: fast, resources: {requests: {storage: 8Gi}}}
            """
        let config = try CronConfigLoader.parse(yaml: Self.hco(templates: templates), source: "hco")
        #expect(config.crons.map(\.name) == ["centos-stream9-image-cron", "fedora-image-cron", "my-debian-cron"])
        let fedora = config.crons[1]
        #expect(fedora.commonTemplate && fedora.modified)
        // No schedule given: the common one (HCO's customizeCommonDICT), replaced by the randomised one later.
        #expect(fedora.schedule?.expression == "0 */12 * * *" && fedora.usesCommonSchedule)
        #expect(fedora.storage.storageClassName == "fast")
        #expect(fedora.source.url == "docker://quay.io/containerdisks/fedora:41")
        // The user's spec as written: CDI's defaults, not HCO's for the built-in templates.
        #expect(fedora.importsToKeep == 3 && fedora.retentionPolicy == .all)
        #expect(config.templates.map(\.modified) == [false, true, false])
        #expect(config.templates.map(\.commonTemplate) == [true, true, false])
    }

    @Test func aDisabledCustomTemplateAndADuplicateName() throws {
        let disabled = """
              - metadata: {name: other-cron, annotations: {dataimportcrontemplate.kubevirt.io/enable: "False"}}
            """
        #expect(try CronConfigLoader.parse(yaml: Self.hco(gate: false, templates: disabled), source: "hco").crons.map(\.name) == ["my-debian-cron"])
        let twice = """
              - metadata: {name: my-debian-cron}
                spec: {managedDataSource: d2, template: {spec: {source: {registry: {url: "docker://r/d"}}}}}
            """
        #expect(throws: DiskImportError.self) { _ = try CronConfigLoader.parse(yaml: Self.hco(templates: twice), source: "hco") }
    }

    @Test func turningTheGateOffResetsTheDataSourcesAndAppliesTheRetentionPolicy() throws {
        let f = try Fixture()
        let templates = """
              - metadata: {name: fedora-image-cron}
                spec:
                  managedDataSource: fedora
                  retentionPolicy: RetainAll
                  template: {spec: {source: {registry: {url: "docker://quay.io/containerdisks/fedora:latest"}}}}
            """
        let on = try CronConfigLoader.parse(yaml: Self.hco(templates: templates), source: "hco")
        for cron in on.crons { f.registry.push(cron.source.url, digest("a")) }
        try f.tick(on, at: "2026-11-23T00:00:00Z")
        #expect(try f.store.dataSource("fedora")?.volume == "fedora-aaaaaaaaaaaa")
        #expect(try f.store.cron("fedora-image-cron")?.commonTemplate == true)

        let off = try CronConfigLoader.parse(yaml: Self.hco(gate: false, templates: templates), source: "hco")
        try f.tick(off, at: "2026-11-23T00:01:00Z")
        #expect(try f.store.cron("fedora-image-cron") == nil)
        // The DataSources of system boot sources are reset, as SSP keeps them.
        for name in ["fedora", "centos-stream9", "centos-stream10"] {
            #expect(try f.store.dataSource(name)?.ready == false && f.store.dataSource(name)?.volume == nil, "\(name)")
        }
        // The built-in ones had HCO's retentionPolicy None: their volumes went. The modified one said RetainAll.
        #expect(try f.volumes(of: "centos-stream9-image-cron").isEmpty)
        #expect(try f.volumes(of: "fedora-image-cron") == ["fedora-aaaaaaaaaaaa"])
        // The custom template is untouched.
        #expect(try f.store.dataSource("debian")?.volume == "debian-aaaaaaaaaaaa")
        #expect(try f.store.cron("my-debian-cron")?.condition("UpToDate")?.isTrue == true)
    }

    @Test func aCustomCronLeavingTheConfigurationKeepsOrDeletesWhatItMade() throws {
        for policy in [RetentionPolicy.all, .none] {
            let f = try Fixture()
            let cron = makeCron("c", retention: policy)
            f.registry.push(cron.source.url, digest("a"))
            try f.tick(configOf(cron), at: "2026-11-23T00:00:00Z")
            try f.tick(CronConfig(), at: "2026-11-23T00:01:00Z")
            #expect(try f.store.cron("c") == nil)
            #expect((try f.store.dataSource("c") != nil) == (policy == .all))
            #expect(try f.volumes(of: "c") == (policy == .all ? ["c-aaaaaaaaaaaa"] : []))
        }
    }

    @Test func theRandomisedScheduleIsMadeOnceAndKept() throws {
        let f = try Fixture()
        let config = try CronConfigLoader.parse(yaml: Self.hco(), source: "hco")
        for cron in config.crons { f.registry.push(cron.source.url, digest("a")) }
        let scheduled = try f.controller.scheduled(config)
        let expression = try #require(try f.store.hyperConverged()?.dataImportSchedule)
        let fields = expression.split(separator: " ")
        #expect(fields.count == 5 && fields[2...] == ["*", "*", "*"], "\(expression)")
        #expect(Int(fields[0]).map { (0..<60).contains($0) } == true, "\(expression)")
        let hour = fields[1].split(separator: "/")
        #expect(hour.count == 2 && hour[1] == "12" && Int(hour[0]).map { (0..<12).contains($0) } == true, "\(expression)")
        // Every common template follows it; the custom one keeps its own.
        #expect(scheduled.crons.filter(\.commonTemplate).allSatisfy { $0.schedule?.expression == expression })
        #expect(scheduled.crons.last?.schedule?.expression == "0 3 * * *")
        // Kept across ticks, and shown by status.
        _ = try f.controller.scheduled(config)
        #expect(try f.store.hyperConverged()?.dataImportSchedule == expression)
        let report = try CronStatusReport(config: config, store: f.store, now: time("2026-11-23T00:00:00Z"))
        #expect(report.dataImportSchedule == expression)
        #expect(report.crons.first?.cron?.schedule?.expression == expression)
    }

    @Test func aScheduleInTheObjectsStatusIsHcosOwn() throws {
        let f = try Fixture()
        let yaml = Self.hco() + "\nstatus: {dataImportSchedule: \"7 5/12 * * *\"}\n"
        let config = try CronConfigLoader.parse(yaml: yaml, source: "hco")
        #expect(config.hyperConverged?.dataImportSchedule == "7 5/12 * * *")
        let scheduled = try f.controller.scheduled(config)
        #expect(scheduled.crons.first?.schedule?.expression == "7 5/12 * * *")
        #expect(try f.store.hyperConverged()?.dataImportSchedule == "7 5/12 * * *")
        let bad = Self.hco() + "\nstatus: {dataImportSchedule: \"every noon\"}\n"
        #expect(throws: DiskImportError.self) { _ = try CronConfigLoader.parse(yaml: bad, source: "hco") }
    }

    @Test func commonBootImageNamespaceGoesToUntouchedCommonTemplates() throws {
        let yaml = Self.hco().replacingOccurrences(of: "hyperconverged}\nspec:\n", with: "hyperconverged}\nspec:\n  commonBootImageNamespace: golden\n")
        let config = try CronConfigLoader.parse(yaml: yaml, source: "hco")
        #expect(config.crons.map(\.namespace) == ["golden", "golden", "golden", nil])
    }
}
