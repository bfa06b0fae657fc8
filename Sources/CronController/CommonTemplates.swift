import DiskImportCore
import Yams

/// The system-defined boot sources a HyperConverged configuration gets, as HCO ships them
/// (assets/dataImportCronTemplates): public containerdisks, polled twice a day, one import kept.
///
/// This list is data; a `dataImportCronTemplates` entry with the same `metadata.name` overrides an entry, and
/// the annotation `dataimportcrontemplate.kubevirt.io/enable: "false"` on such an entry disables it.
public enum CommonTemplates {
    static let yaml = """
        - metadata:
            name: centos-stream9-image-cron
            annotations: {cdi.kubevirt.io/storage.bind.immediate.requested: "true"}
          spec:
            garbageCollect: Outdated
            managedDataSource: centos-stream9
            schedule: "0 */12 * * *"
            importsToKeep: 1
            template:
              spec:
                source: {registry: {url: "docker://quay.io/containerdisks/centos-stream:9"}}
                storage: {resources: {requests: {storage: 10Gi}}}
        - metadata:
            name: centos-stream10-image-cron
            annotations: {cdi.kubevirt.io/storage.bind.immediate.requested: "true"}
          spec:
            garbageCollect: Outdated
            managedDataSource: centos-stream10
            schedule: "0 */12 * * *"
            importsToKeep: 1
            template:
              spec:
                source: {registry: {url: "docker://quay.io/containerdisks/centos-stream:10"}}
                storage: {resources: {requests: {storage: 10Gi}}}
        - metadata:
            name: fedora-image-cron
            annotations: {cdi.kubevirt.io/storage.bind.immediate.requested: "true"}
          spec:
            garbageCollect: Outdated
            managedDataSource: fedora
            schedule: "0 */12 * * *"
            importsToKeep: 1
            template:
              spec:
                source: {registry: {url: "docker://quay.io/containerdisks/fedora:latest"}}
                storage: {resources: {requests: {storage: 5Gi}}}
        """

    /// The annotation that disables one system-defined boot source.
    public static let enableAnnotation = "dataimportcrontemplate.kubevirt.io/enable"

    /// The built-in templates, parsed.
    public static func builtIn() throws -> [DataImportCron] {
        let diagnostics = ConfigDiagnostics(source: "built-in common templates")
        guard let node = try Yams.compose(yaml: yaml), let items = node.sequence else {
            throw DiskImportError.corrupt("built-in common templates are not a list")
        }
        return try items.map { item in
            var cron = try CronConfigLoader.readCron(item, kind: "common template", diagnostics)
            cron.commonTemplate = true
            return cron
        }
    }

    /// HCO's rules: with the feature gate on, every system template that is not disabled, overridden by a user
    /// template of the same name; then the custom templates, which the gate never touches.
    /// `disabled` names the system templates listed with the enable annotation set to "false" (such entries need
    /// no spec, as in the OpenShift documentation's example).
    static func resolve(userTemplates: [DataImportCron], disabled: Set<String>, settings: HyperConvergedSettings,
                        system: [DataImportCron]) -> [DataImportCron] {
        let systemNames = Set(system.map(\.name))
        var result: [DataImportCron] = []
        if settings.enableCommonBootImageImport {
            for template in system where !disabled.contains(template.name) {
                guard let user = userTemplates.first(where: { $0.name == template.name }) else {
                    result.append(template)
                    continue
                }
                var override = user
                override.commonTemplate = true
                result.append(override)
            }
        }
        result += userTemplates.filter { !systemNames.contains($0.name) }
        return result
    }
}
