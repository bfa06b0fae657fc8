import DiskImportCore
import Foundation
import Testing

@testable import CronController

/// Choosing a storage class and where scratch goes, with the fake registry and importer.
@Suite struct StorageClassesTests {
    static func classes(_ yaml: String) throws -> StorageClasses { try StorageClasses.parse(yaml: yaml, source: "classes.yaml") }

    @Test func explicitNameThenVirtDefaultThenClusterDefault() throws {
        let set = try Self.classes("""
            - metadata: {name: standard, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
              root: /s
            - metadata: {name: fast, annotations: {storageclass.kubevirt.io/is-default-virt-class: "true"}}
              root: /f
              dataImportCronSourceFormat: snapshot
            - metadata: {name: slow}
              root: /l
            """)
        #expect(set.warnings.isEmpty)
        #expect(try set.choose(requested: nil).name == "fast")
        #expect(try set.choose(requested: nil).sourceFormat == .snapshot)
        #expect(try set.choose(requested: "slow").name == "slow")
        #expect(throws: DiskImportError.self) { try set.choose(requested: "absent") }
        let clusterOnly = StorageClasses(set.classes.map { var c = $0; c.isVirtDefault = false; return c })
        #expect(try clusterOnly.choose(requested: nil).name == "standard")
        #expect(StorageClasses.single(root: "/var/x").classes == [{ var c = StorageClass(name: "default", root: "/var/x"); c.isClusterDefault = true; return c }()])
    }

    @Test func severalDefaultsWarnAndTheFirstByNameWins() throws {
        let set = try Self.classes("""
            items:
            - metadata: {name: zeta, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
              root: /z
            - metadata: {name: alpha, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
              root: /a
              provisioner: ignored.example
            """)
        #expect(try set.choose(requested: nil).name == "alpha")
        #expect(set.warnings == ["2 storage classes are marked default (storageclass.kubernetes.io/is-default-class): alpha, zeta; using alpha, the first by name"])
    }

    @Test func scratchGoesToTheScratchClassWhenItExistsElseToTheTargetsClass() throws {
        let storage = try ScratchStorage()
        let file = storage.path + "/classes.yaml"
        try """
            - metadata: {name: fast, annotations: {storageclass.kubevirt.io/is-default-virt-class: "true"}}
              root: \(storage.path)/fast
            - metadata: {name: scratchy}
              root: \(storage.path)/scratchy
            """.write(toFile: file, atomically: true, encoding: .utf8)
        for (scratchClass, expected) in [("scratchy", "scratchy"), ("absent", "fast")] {
            let registry = FakeRegistry(), importer = FakeImporter()
            let controller = try DataImportCronController(storage: storage.path + "/state-\(scratchClass)", poller: registry,
                                                          importer: importer, secrets: SecretsDirectory(root: nil),
                                                          storageClassesPath: file, logger: quietLogger)
            var config = configOf(makeCron("c-\(scratchClass)", url: "docker://r.local/c:latest"))
            var settings = HyperConvergedSettings()
            settings.scratchSpaceStorageClass = scratchClass
            config.hyperConverged = settings
            registry.push("docker://r.local/c:latest", "sha256:" + String(repeating: "d", count: 64))
            let result = try controller.tick(config, now: UTCInstant(rfc3339: "2026-11-23T00:00:00Z"))
            #expect(result.errors.isEmpty)
            let request = try #require(importer.requests.first)
            #expect(request.scratchDirectory == "\(storage.path)/\(expected)/scratch")
            #expect(request.targetPath == "\(storage.path)/fast/volumes/c-\(scratchClass)-dddddddddddd/disk.img")
        }
    }
}
