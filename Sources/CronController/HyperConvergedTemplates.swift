import DiskImportCore
import Yams

/// What HCO reports for one template in `status.dataImportCronTemplates[]` (api/v1 DataImportCronStatus), with the
/// crons the local controller made from it.
public struct TemplateStatus: Sendable, Equatable {
    public var name: String
    /// A system-defined boot source (`status.commonTemplate`).
    public var commonTemplate: Bool
    /// A common template the user changed with a template of the same name (`status.modified`).
    public var modified: Bool
    /// The template's `ssp.kubevirt.io/dict.architectures` before it met the cluster's architectures
    /// (`status.originalSupportedArchitectures`); nil without multi-arch boot sources or without the annotation.
    public var originalSupportedArchitectures: String?
    /// The annotation after the intersection: the architectures a cron is made for.
    public var supportedArchitectures: String?
    /// False (`Deployed=False`, reason `UnsupportedArchitectures`) when none of its architectures is the cluster's.
    public var deployed: Bool
    /// The DataImportCrons made from it: itself, or one per architecture.
    public var crons: [String]

    public static let deployedCondition = "Deployed"
    public static let unsupportedArchitecturesReason = "UnsupportedArchitectures"
    public static let unsupportedArchitecturesMessage = "DataImportCronTemplate has no supported architectures for the current cluster"
}

/// A DataSource that points at another (CDI's `spec.source.dataSource`): with multi-arch boot sources, SSP keeps the
/// unsuffixed name (`fedora`) pointing at the default architecture's DataSource (`fedora-amd64`).
public struct DataSourceReference: Sendable, Equatable {
    public var name: String
    public var target: String
}

/// HCO's handling of `dataImportCronTemplates` (controllers/handlers/golden-images/golden_images.go at d2dd55ca) and
/// SSP's per-architecture crons (kubevirt/ssp-operator internal/operands/data-sources/reconcile.go at d58868d3):
///
/// - common templates, when `enableCommonBootImageImport` is on: each built-in one, unless a user template of the
///   same name disables it; a user template of that name replaces its spec (keeping its schedule when the user gave
///   none) and marks it `modified`; one the user did not touch gets `commonBootImageNamespace`;
/// - custom templates (any other name), unless disabled;
/// - sorted by name, as HCO sorts them;
/// - with `enableMultiArchBootImageImport`: a template's `ssp.kubevirt.io/dict.architectures` is intersected with the
///   cluster's architectures; none left is `Deployed=False / UnsupportedArchitectures` and no cron; otherwise one
///   DataImportCron `<name>-<arch>` per architecture, managing DataSource `<managedDataSource>-<arch>` and importing
///   that platform, and the DataSource `<managedDataSource>` pointing at the first cluster architecture's.
enum HyperConvergedTemplates {
    static let architecturesAnnotation = "ssp.kubevirt.io/dict.architectures"
    /// SSP's labels on a per-architecture cron.
    static let architectureLabel = "template.kubevirt.io/architecture"
    static let dataSourceNameLabel = "cdi.kubevirt.io/storage.import.datasource-name"

    struct Result {
        var crons: [DataImportCron] = []
        var templates: [TemplateStatus] = []
        var references: [DataSourceReference] = []
    }

    static func resolve(_ items: [Node], settings: HyperConvergedSettings, architectures: [String],
                        _ d: ConfigDiagnostics) throws -> Result {
        let system = try CommonTemplates.builtIn()
        var user: [String: (cron: DataImportCron?, node: Node)] = [:]
        for item in items {
            let metadata = item.mapping?["metadata"]?.mapping
            guard let name = metadata?["name"]?.scalar?.string else {
                throw DiskImportError.usage("\(d.location(item)): a dataImportCronTemplates entry has no metadata.name")
            }
            guard user[name] == nil else {
                throw DiskImportError.usage("\(d.location(item)): \(name) DataImportCronTemplate is already defined")
            }
            let enable = metadata?["annotations"]?.mapping?[CommonTemplates.enableAnnotation]?.scalar?.string
            // A disabled entry needs no spec (as in the OpenShift documentation's example).
            let enabled = enable == nil || enable?.lowercased() == "true"
            user[name] = (enabled ? try CronConfigLoader.readCron(item, kind: "dataImportCronTemplates entry", d) : nil, item)
        }

        var templates: [DataImportCron] = []
        if settings.enableCommonBootImageImport {
            for common in system {
                guard let (custom, _) = user[common.name] else {
                    var template = common
                    if let namespace = settings.commonBootImageNamespace { template.namespace = namespace }
                    templates.append(template)
                    continue
                }
                guard let custom else { continue }
                templates.append(customized(common, by: custom, multiArch: settings.enableMultiArchBootImageImport))
            }
        }
        let systemNames = Set(system.map(\.name))
        templates += user.values.compactMap(\.cron).filter { !systemNames.contains($0.name) }
        templates.sort { $0.name < $1.name }

        var result = Result()
        for template in templates {
            expand(template, multiArch: settings.enableMultiArchBootImageImport, architectures: architectures, into: &result)
        }
        return result
    }

    /// HCO's customizeCommonDICT: the user's spec, the common schedule when the user gave none, the annotations
    /// merged (with multi-arch on, the architectures annotation stays the common one unless the user changed the
    /// registry, customizeCommonDictAnnotations).
    private static func customized(_ common: DataImportCron, by custom: DataImportCron, multiArch: Bool) -> DataImportCron {
        var result = custom
        result.commonTemplate = true
        result.modified = true
        if result.schedule == nil {
            result.schedule = common.schedule
            result.usesCommonSchedule = true
        }
        var annotations = common.annotations.merging(custom.annotations) { _, user in user }
        if multiArch {
            let registryModified = custom.source.registry != nil && custom.source != common.source
            annotations[architecturesAnnotation] = registryModified
                ? custom.annotations[architecturesAnnotation] : common.annotations[architecturesAnnotation]
        }
        result.annotations = annotations
        return result
    }

    /// One template as SSP turns it into DataImportCrons (getCronsByDataSourceMultiArch, setDataImportCronArchFields).
    private static func expand(_ template: DataImportCron, multiArch: Bool, architectures: [String], into result: inout Result) {
        var status = TemplateStatus(name: template.name, commonTemplate: template.commonTemplate, modified: template.modified,
                                    deployed: true, crons: [])
        var cron = template
        // The annotation never reaches the DataImportCron itself.
        let annotation = cron.annotations.removeValue(forKey: architecturesAnnotation)
        guard multiArch, let annotation else {
            status.crons = [cron.name]
            result.crons.append(cron)
            result.templates.append(status)
            return
        }
        // removeUnsupportedArchs: the annotation's order, only the cluster's architectures.
        let listed = annotation.split(separator: ",").map { String($0).trimmingSpaces() }
        let supported = listed.filter(architectures.contains)
        status.originalSupportedArchitectures = annotation
        status.supportedArchitectures = supported.joined(separator: ",")
        guard !supported.isEmpty else {
            status.deployed = false
            result.templates.append(status)
            return
        }
        for arch in supported {
            var copy = cron
            copy.name = "\(cron.name)-\(arch)"
            copy.managedDataSource = "\(cron.managedDataSource)-\(arch)"
            copy.labels[architectureLabel] = arch
            copy.labels[dataSourceNameLabel] = cron.managedDataSource
            if case .registry(var registry) = copy.source {
                registry.architecture = arch
                copy.source = .registry(registry)
            }
            status.crons.append(copy.name)
            result.crons.append(copy)
        }
        // getDefaultDataSourceArch: the first cluster architecture the template has.
        if let defaultArch = architectures.first(where: supported.contains) {
            result.references.append(DataSourceReference(name: cron.managedDataSource, target: "\(cron.managedDataSource)-\(defaultArch)"))
        }
        result.templates.append(status)
    }
}
