import DiskImportCore
import Foundation
import Testing

@testable import CronController

private func message(of body: () throws -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch let error as DiskImportError {
        return error.message
    } catch {
        return "unexpected \(error)"
    }
}

@Suite struct CronConfigTests {
    static let fullCron = """
        apiVersion: cdi.kubevirt.io/v1beta1
        kind: DataImportCron
        metadata:
          name: fedora-image-import-cron
          namespace: golden-images
          labels: {team: virt}
          annotations:
            cdi.kubevirt.io/storage.bind.immediate.requested: "true"
          uid: 1234
        spec:
          template:
            spec:
              source:
                registry:
                  url: "docker://quay.io/kubevirt/fedora-cloud-registry-disk-demo:latest"
                  pullMethod: node
                  secretRef: my-secret
                  certConfigMap: my-certs
                  platform: {architecture: arm64}
              storage:
                accessModes: [ReadWriteOnce]
                resources:
                  requests:
                    storage: 5Gi
                storageClassName: fast
              preallocation: true
          schedule: "30 1 * * 1"
          garbageCollect: Never
          importsToKeep: 2
          managedDataSource: fedora
          retentionPolicy: None
        status:
          lastImportedPVC: {name: fedora-0123456789ab}
        """

    @Test func readsEveryFieldOfACdiObject() throws {
        let config = try CronConfigLoader.parse(yaml: Self.fullCron, source: "crons.yaml")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        try #require(config.crons.count == 1)
        let cron = config.crons[0]
        #expect(cron.name == "fedora-image-import-cron")
        #expect(cron.namespace == "golden-images")
        #expect(cron.labels == ["team": "virt"])
        #expect(cron.annotations["cdi.kubevirt.io/storage.bind.immediate.requested"] == "true")
        #expect(cron.schedule?.expression == "30 1 * * 1")
        #expect(cron.source.url == "docker://quay.io/kubevirt/fedora-cloud-registry-disk-demo:latest")
        #expect(cron.source.registry?.pullMethod == .node)
        #expect(cron.source.secretRef == "my-secret")
        #expect(cron.source.certConfigMap == "my-certs")
        #expect(cron.source.registry?.architecture == "arm64")
        #expect(cron.storage == StorageRequest(size: 5 << 30, sizeText: "5Gi", storageClassName: "fast"))
        #expect(cron.preallocation)
        #expect(cron.garbageCollect == .never)
        #expect(cron.importsToKeep == 2)
        #expect(cron.managedDataSource == "fedora")
        #expect(cron.retentionPolicy == RetentionPolicy.none)
    }

    @Test func defaultsFollowCdi() throws {
        let yaml = """
            kind: DataImportCron
            metadata: {name: centos}
            spec:
              managedDataSource: centos-stream9
              template: {spec: {source: {registry: {url: "docker://quay.io/containerdisks/centos-stream:9"}}}}
            """
        let cron = try #require(try CronConfigLoader.parse(yaml: yaml, source: "c.yaml").crons.first)
        #expect(cron.schedule == nil)
        #expect(cron.garbageCollect == .outdated)
        #expect(cron.importsToKeep == 3)
        #expect(cron.retentionPolicy == .all)
        #expect(cron.source.registry?.pullMethod == .pod)
        #expect(cron.storage.size == nil)
        #expect(!cron.preallocation)
    }

    @Test func multipleDocumentsListsAndHcoTemplateLists() throws {
        let one = """
            apiVersion: cdi.kubevirt.io/v1beta1
            kind: DataImportCron
            metadata: {name: a}
            spec: {schedule: "0 */12 * * *", managedDataSource: a, template: {spec: {source: {registry: {url: "docker://r/a:1"}}}}}
            """
        let two = one.replacingOccurrences(of: "name: a", with: "name: b").replacingOccurrences(of: "managedDataSource: a", with: "managedDataSource: b")
        let multiDocument = "---\n\(one)\n---\n\(two)\n---\n"
        #expect(try CronConfigLoader.parse(yaml: multiDocument, source: "m").crons.map(\.name) == ["a", "b"])

        let indent = { (text: String) in text.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") }
        let list = "items:\n" + [one, two].map { "- " + indent($0).dropFirst(2) }.joined(separator: "\n")
        #expect(try CronConfigLoader.parse(yaml: "kind: List\n" + list, source: "l").crons.map(\.name) == ["a", "b"])
        let plainList = [one, two].map { "- " + indent($0).dropFirst(2) }.joined(separator: "\n")
        #expect(try CronConfigLoader.parse(yaml: plainList, source: "p").crons.map(\.name) == ["a", "b"])

        let hcoList = """
            dataImportCronTemplates:
            - metadata:
                name: centos-stream9-image-cron
                annotations:
                  cdi.kubevirt.io/storage.bind.immediate.requested: "true"
              spec:
                schedule: "0 */12 * * *"
                template:
                  spec:
                    source:
                      registry:
                        url: docker://quay.io/containerdisks/centos-stream:9
                    storage:
                      resources:
                        requests:
                          storage: 30Gi
                garbageCollect: Outdated
                managedDataSource: centos-stream9
            - metadata: {name: fedora-image-cron}
              spec:
                schedule: "0 */12 * * *"
                template: {spec: {source: {registry: {url: docker://quay.io/containerdisks/fedora:latest}}}}
                managedDataSource: fedora
            """
        let config = try CronConfigLoader.parse(yaml: hcoList, source: "h")
        #expect(config.crons.map(\.name) == ["centos-stream9-image-cron", "fedora-image-cron"])
        #expect(config.crons[0].storage.size == 30 << 30)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }

    @Test func hyperConvergedObject() throws {
        let yaml = """
            apiVersion: hco.kubevirt.io/v1beta1
            kind: HyperConverged
            metadata: {name: kubevirt-hyperconverged, namespace: openshift-cnv}
            spec:
              enableCommonBootImageImport: false
              filesystemOverhead:
                global: "0.07"
                storageClass:
                  fast: "0.1"
              scratchSpaceStorageClass: scratch
              liveMigrationConfig: {parallelMigrationsPerCluster: 5}
              dataImportCronTemplates:
              - metadata: {name: rhel9-image-cron}
                spec:
                  schedule: "0 */12 * * *"
                  template: {spec: {source: {registry: {url: "docker://registry.example/rhel9:latest"}}}}
                  managedDataSource: rhel9
            """
        let config = try CronConfigLoader.parse(yaml: yaml, source: "hco.yaml")
        let settings = try #require(config.hyperConverged)
        #expect(!settings.enableCommonBootImageImport)
        #expect(settings.globalFilesystemOverhead?.description == "0.07")
        #expect(settings.filesystemOverhead(storageClass: "fast").description == "0.1")
        #expect(settings.filesystemOverhead(storageClass: "slow").description == "0.07")
        #expect(HyperConvergedSettings().filesystemOverhead(storageClass: nil) == .standard)
        #expect(settings.scratchSpaceStorageClass == "scratch")
        #expect(config.crons.map(\.managedDataSource) == ["rhel9"])
        #expect(config.warnings.count == 1)
        #expect(config.warnings.first?.contains("spec.liveMigrationConfig") == true)
    }

    @Test func unknownFieldsAreWarningsThatNameThem() throws {
        let yaml = Self.fullCron
            .replacingOccurrences(of: "  importsToKeep: 2", with: "  importsToKeep: 2\n  sheduleTypo: x")
            .replacingOccurrences(of: "pullMethod: node", with: "pullMethod: node\n          insecure: true")
        let config = try CronConfigLoader.parse(yaml: yaml, source: "crons.yaml")
        #expect(config.crons.count == 1)
        #expect(config.warnings.count == 2)
        #expect(config.warnings.contains { $0.contains("spec.sheduleTypo") && $0.contains("fedora-image-import-cron") })
        #expect(config.warnings.contains { $0.contains("spec.template.spec.source.registry.insecure") && $0.contains("crons.yaml line") })
    }

    @Test(arguments: [
        ("managedDataSource: fedora", "", "spec.managedDataSource is required"),
        ("url: \"docker://quay.io/kubevirt/fedora-cloud-registry-disk-demo:latest\"", "", "spec.template.spec.source.registry.url is required"),
        ("url: \"docker://quay.io/kubevirt/fedora-cloud-registry-disk-demo:latest\"", "url: https://example.com/disk.img", "must be a docker:// reference"),
        ("url: \"docker://quay.io/kubevirt/fedora-cloud-registry-disk-demo:latest\"", "imageStream: fedora:latest", "ImageStreams"),
        ("schedule: \"30 1 * * 1\"", "schedule: \"0 0 30 2 *\"", "spec.schedule is invalid: schedule \"0 0 30 2 *\": never fires"),
        ("storage: 5Gi", "storage: 5Zi", "spec.template.spec.storage.resources.requests.storage is invalid"),
        ("garbageCollect: Never", "garbageCollect: Sometimes", "spec.garbageCollect \"Sometimes\" is not one of Outdated, Never"),
        ("retentionPolicy: None", "retentionPolicy: Some", "spec.retentionPolicy \"Some\" is not one of All (RetainAll), None"),
        ("importsToKeep: 2", "importsToKeep: two", "spec.importsToKeep must be an integer"),
        ("name: fedora-image-import-cron", "name: Fedora_Cron", "metadata.name \"Fedora_Cron\" is not a valid name"),
        ("managedDataSource: fedora", "managedDataSource: ../etc", "is not a valid name"),
        ("kind: DataImportCron", "kind: Pod", "kind Pod is not a DataImportCron"),
        ("apiVersion: cdi.kubevirt.io/v1beta1", "apiVersion: v1", "apiVersion v1 is not cdi.kubevirt.io"),
        ("pullMethod: node", "pullMethod: kubelet", "pullMethod \"kubelet\" is not one of pod, node"),
        ("preallocation: true", "preallocation: maybe", "preallocation must be true or false"),
    ])
    func invalidFieldsAreClearErrorsNamingThePath(_ replace: String, _ with: String, _ expected: String) {
        Self.expectOneLineError(Self.fullCron.replacingOccurrences(of: replace, with: with), expected)
    }

    /// Loading `yaml` fails with one line that names crons.yaml and contains `expected`.
    static func expectOneLineError(_ yaml: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = message { _ = try CronConfigLoader.parse(yaml: yaml, source: "crons.yaml") }
        #expect(text.contains(expected), "\(text)", sourceLocation: sourceLocation)
        #expect(text.hasPrefix("crons.yaml"), "\(text)", sourceLocation: sourceLocation)
        #expect(!text.contains("\n"), sourceLocation: sourceLocation)
    }

    @Test func otherSourceKindsAndInvalidYaml() {
        let s3 = """
            kind: DataImportCron
            metadata: {name: x}
            spec: {managedDataSource: x, template: {spec: {source: {s3: {url: "s3://bucket/x.img"}}}}}
            """
        #expect(message { _ = try CronConfigLoader.parse(yaml: s3, source: "h") }.contains("spec.template.spec.source.s3 is not supported"))
        let both = s3.replacingOccurrences(of: "s3: {url: \"s3://bucket/x.img\"}", with: "http: {url: \"https://e/x.img\"}, registry: {url: \"docker://r/x\"}")
        #expect(message { _ = try CronConfigLoader.parse(yaml: both, source: "h") }.contains("and source.registry are both given"))
        #expect(message { _ = try CronConfigLoader.parse(yaml: "a: [1, 2", source: "bad.yaml") }.hasPrefix("bad.yaml: invalid YAML"))
        #expect(message { _ = try CronConfigLoader.load(path: "/nonexistent/crons.yaml") }.contains("No such file or directory"))
    }

    @Test func namesAndDataSourcesAreUnique() {
        let one = "- {metadata: {name: a}, spec: {managedDataSource: ds, template: {spec: {source: {registry: {url: docker://r/a}}}}}}"
        let dupName = one + "\n" + one.replacingOccurrences(of: "ds", with: "other")
        #expect(message { _ = try CronConfigLoader.parse(yaml: dupName, source: "d") }.contains("DataImportCron \"a\" is defined twice"))
        let dupSource = one + "\n" + one.replacingOccurrences(of: "name: a", with: "name: b")
        #expect(message { _ = try CronConfigLoader.parse(yaml: dupSource, source: "d") }
            .contains("DataSource ds is already managed by DataImportCron a"))
    }

    @Test(arguments: [
        ("docker://quay.io/containerdisks/fedora:41", "docker://quay.io/containerdisks/fedora@sha256:ab"),
        ("docker://quay.io/containerdisks/fedora", "docker://quay.io/containerdisks/fedora@sha256:ab"),
        ("docker://localhost:5000/fedora", "docker://localhost:5000/fedora@sha256:ab"),
        ("docker://localhost:5000/fedora:41", "docker://localhost:5000/fedora@sha256:ab"),
        ("docker://localhost:5000/fedora@sha256:00", "docker://localhost:5000/fedora@sha256:ab"),
    ])
    func referencePinnedToDigestDropsTheTag(_ url: String, _ expected: String) {
        #expect(RegistrySource(url: url).reference(pinnedTo: "sha256:ab") == expected)
    }
}

@Suite struct SecretsDirectoryTests {
    @Test func secretAndConfigMapAsKubernetesMountsThem() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("secrets-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        // Kubernetes layout: keys are symlinks into a timestamped directory through ..data.
        try fm.createDirectory(atPath: "\(root)/creds/..2026_11_23", withIntermediateDirectories: true)
        try "robot\n".write(toFile: "\(root)/creds/..2026_11_23/accessKeyId", atomically: true, encoding: .utf8)
        try "s3cr3t".write(toFile: "\(root)/creds/..2026_11_23/secretKey", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: "\(root)/creds/..data", withDestinationPath: "..2026_11_23")
        try fm.createSymbolicLink(atPath: "\(root)/creds/accessKeyId", withDestinationPath: "..data/accessKeyId")
        try fm.createSymbolicLink(atPath: "\(root)/creds/secretKey", withDestinationPath: "..data/secretKey")
        try fm.createDirectory(atPath: "\(root)/ca", withIntermediateDirectories: true)
        for name in ["a.crt", "b.pem", "notes.txt"] { try "x".write(toFile: "\(root)/ca/\(name)", atomically: true, encoding: .utf8) }

        var source = CronSource.registry(RegistrySource(url: "docker://r/x"))
        source.secretRef = "creds"
        source.certConfigMap = "ca"
        let access = try SecretsDirectory(root: root).access(for: source)
        #expect(access.credentials == SourceCredentials(accessKeyId: "robot", secretKey: "s3cr3t"))
        #expect(access.certificateDirectory == "\(root)/ca")
        #expect(access.certificateFiles == ["\(root)/ca/a.crt", "\(root)/ca/b.pem"])
        #expect(!"\(access)".contains("s3cr3t"))
        #expect(!"\(String(describing: access.credentials))".contains("robot"))

        source.secretRef = "missing"
        #expect(message { _ = try SecretsDirectory(root: root).access(for: source) }.contains("secret missing not found"))
        source.secretRef = "ca"
        #expect(message { _ = try SecretsDirectory(root: root).access(for: source) }.contains("secret ca has no key accessKeyId"))
        source.secretRef = "creds"
        #expect(message { _ = try SecretsDirectory(root: nil).access(for: source) }.contains("no --secrets directory"))
        source.secretRef = nil
        source.certConfigMap = "creds"
        #expect(message { _ = try SecretsDirectory(root: root).access(for: source) }.contains("holds no *.crt or *.pem"))
    }
}

/// `source.http` in a cron, and CDI's retention policy spellings.
@Suite struct HTTPSourceConfigTests {
    static let httpCron = """
        kind: DataImportCron
        metadata: {name: debian-cron}
        spec:
          schedule: "0 4 * * *"
          managedDataSource: debian
          template:
            spec:
              source:
                http:
                  url: "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2"
                  secretRef: mirror-creds
                  certConfigMap: mirror-ca
                  checksumsUrl: SHA512SUMS
              storage: {resources: {requests: {storage: 3Gi}}}
        """

    @Test func readsAnHTTPSource() throws {
        let config = try CronConfigLoader.parse(yaml: Self.httpCron, source: "crons.yaml")
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        let http = try #require(config.crons.first?.source.http)
        #expect(http.url == "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2")
        #expect(http.secretRef == "mirror-creds" && http.certConfigMap == "mirror-ca")
        #expect(http.fileName == "debian-12-generic-amd64.qcow2")
        #expect(http.resolvedChecksumsURL == "https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS")
        #expect(config.crons.first?.source.kind == "http")
    }

    @Test(arguments: [
        ("SHA512SUMS", "https://h.example:8443/a/b/SHA512SUMS"),
        ("../SUMS", "https://h.example:8443/a/b/../SUMS"),
        ("/sums/all.txt", "https://h.example:8443/sums/all.txt"),
        ("https://other.example/SUMS", "https://other.example/SUMS"),
    ])
    func checksumsUrlsResolveAgainstTheImage(_ reference: String, _ expected: String) {
        var source = HTTPSource(url: "https://h.example:8443/a/b/disk%201.img?x=1")
        source.checksumsURL = reference
        #expect(source.resolvedChecksumsURL == expected)
        #expect(source.fileName == "disk 1.img")
    }

    @Test(arguments: [
        ("url: \"https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2\"", "url: ftp://h/x.img",
         "spec.template.spec.source.http.url \"ftp://h/x.img\" must be an http:// or https:// URL"),
        ("url: \"https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2\"", "", "spec.template.spec.source.http.url is required"),
        ("secretRef: mirror-creds", "secretRef: Mirror_Creds", "secretRef \"Mirror_Creds\" is not a valid name"),
    ])
    func invalidHTTPSourcesAreClearErrors(_ replace: String, _ with: String, _ expected: String) {
        CronConfigTests.expectOneLineError(Self.httpCron.replacingOccurrences(of: replace, with: with), expected)
    }

    @Test func retainAllIsCdisAll() throws {
        for (written, policy) in [("RetainAll", RetentionPolicy.all), ("All", .all), ("None", .none)] {
            let yaml = CronConfigTests.fullCron.replacingOccurrences(of: "retentionPolicy: None", with: "retentionPolicy: \(written)")
            #expect(try CronConfigLoader.parse(yaml: yaml, source: "c").crons.first?.retentionPolicy == policy)
        }
    }
}
