import DiskImportCore
import Yams

/// The system-defined boot sources a HyperConverged configuration gets, as HCO ships them
/// (kubevirt/hyperconverged-cluster-operator assets/dataImportCronTemplates/dataImportCronTemplates.yaml at
/// d2dd55ca): public containerdisks, polled twice a day, with the architectures each is published for.
///
/// This list is data; a `dataImportCronTemplates` entry with the same `metadata.name` overrides an entry, and
/// the annotation `dataimportcrontemplate.kubevirt.io/enable: "false"` on such an entry disables it
/// (`HyperConvergedTemplates`).
public enum CommonTemplates {
    static let yaml = """
        - metadata:
            annotations:
              cdi.kubevirt.io/storage.bind.immediate.requested: "true"
              ssp.kubevirt.io/dict.architectures: amd64,arm64,s390x
            name: centos-stream9-image-cron
          spec:
            garbageCollect: Outdated
            managedDataSource: centos-stream9
            schedule: "0 */12 * * *"
            template:
              spec:
                source: {registry: {url: "docker://quay.io/containerdisks/centos-stream:9"}}
                storage: {resources: {requests: {storage: 10Gi}}}
        - metadata:
            annotations:
              cdi.kubevirt.io/storage.bind.immediate.requested: "true"
              ssp.kubevirt.io/dict.architectures: amd64,arm64,s390x
            name: centos-stream10-image-cron
          spec:
            garbageCollect: Outdated
            managedDataSource: centos-stream10
            schedule: "0 */12 * * *"
            template:
              spec:
                source: {registry: {url: "docker://quay.io/containerdisks/centos-stream:10"}}
                storage: {resources: {requests: {storage: 10Gi}}}
        - metadata:
            annotations:
              cdi.kubevirt.io/storage.bind.immediate.requested: "true"
              ssp.kubevirt.io/dict.architectures: arm64,s390x,amd64
            name: fedora-image-cron
          spec:
            garbageCollect: Outdated
            managedDataSource: fedora
            schedule: "0 */12 * * *"
            template:
              spec:
                source: {registry: {url: "docker://quay.io/containerdisks/fedora:latest"}}
                storage: {resources: {requests: {storage: 5Gi}}}
        """

    /// The annotation that disables one boot source (HCO's util.DataImportCronEnabledAnnotation): a template is
    /// enabled when it is absent or "true" (any case), disabled otherwise.
    public static let enableAnnotation = "dataimportcrontemplate.kubevirt.io/enable"

    /// The built-in templates, parsed, with HCO's ensureDICTFields applied (golden_images.go): the file sets
    /// neither `retentionPolicy` nor `importsToKeep`, so they get `None` (the DataSource and volumes go with the
    /// cron) and 1 (HCO: "we have nothing to do with the old PVC") instead of CDI's All and 3.
    public static func builtIn() throws -> [DataImportCron] {
        let diagnostics = ConfigDiagnostics(source: "built-in common templates")
        guard let node = try Yams.compose(yaml: yaml), let items = node.sequence else {
            throw DiskImportError.corrupt("built-in common templates are not a list")
        }
        return try items.map { item in
            var cron = try CronConfigLoader.readCron(item, kind: "common template", diagnostics)
            cron.commonTemplate = true
            cron.usesCommonSchedule = true
            cron.retentionPolicy = .none
            cron.importsToKeep = 1
            return cron
        }
    }
}
