import DiskImportCore
import Target
import Yams

/// The parts of a HyperConverged object that concern boot sources, from either of HCO's layouts:
///
/// | setting | v1beta1 | v1 (HCO PR #4046) |
/// |---|---|---|
/// | common boot sources on | `spec.enableCommonBootImageImport` | `spec.workloadSources.enableCommonBootImageImport` |
/// | multi-arch boot sources | `spec.featureGates.enableMultiArchBootImageImport` | `spec.workloadSources.enableMultiArchBootImageImport` (or the deprecated `featureGates` list entry) |
/// | namespace of common boot sources | `spec.commonBootImageNamespace` | `spec.workloadSources.commonBootImageNamespace` |
/// | templates | `spec.dataImportCronTemplates` | `spec.workloadSources.dataImportCronTemplates` |
/// | overhead, scratch class | `spec.filesystemOverhead`, `spec.scratchSpaceStorageClass` | `spec.storage.filesystemOverhead`, `spec.storage.scratchSpaceStorageClass` |
///
/// (api/v1beta1/conversion.go, convertWorkloadSourcesV1beta1ToV1 and convertStorageV1beta1ToV1, in
/// kubevirt/hyperconverged-cluster-operator.) Either layout is read whatever the apiVersion says; where one object
/// sets a value in both, v1's wins and a warning says so.
public struct HyperConvergedSettings: Sendable, Equatable {
    /// HCO's default is true.
    public var enableCommonBootImageImport = true
    /// HCO's default is false (the deprecated feature gate's default).
    public var enableMultiArchBootImageImport = false
    /// Namespace given to the common boot sources that the user did not override.
    public var commonBootImageNamespace: String?
    /// `status.dataImportSchedule` of the object, when it carries HCO's status: the common templates' schedule.
    public var dataImportSchedule: String?
    /// `filesystemOverhead.global`, a fraction such as 0.055.
    public var globalFilesystemOverhead: FilesystemOverhead?
    /// `filesystemOverhead.storageClass.<name>`.
    public var storageClassFilesystemOverhead: [String: FilesystemOverhead] = [:]
    public var scratchSpaceStorageClass: String?

    public init() {}

    /// The fraction of a volume's filesystem kept for the filesystem itself, for a class: the per-class value,
    /// else the global one, else 0.055.
    public func filesystemOverhead(storageClass: String?) -> FilesystemOverhead {
        if let storageClass, let value = storageClassFilesystemOverhead[storageClass] { return value }
        return globalFilesystemOverhead ?? .standard
    }

    /// The feature gate HCO's v1 keeps as a deprecated list entry.
    static let multiArchGate = "enableMultiArchBootImageImport"

    /// Reads the settings and returns the `dataImportCronTemplates` entries for the caller to read as crons.
    static func read(_ node: Node, _ d: ConfigDiagnostics) throws -> (HyperConvergedSettings, [Node]) {
        let name = node.mapping?["metadata"]?.mapping?["name"]?.scalar?.string
        let object = try YAMLFields(node, path: "", owner: "HyperConverged \"\(name ?? "")\"", diagnostics: d)
        object.warnUnknown(known: ["apiVersion", "kind", "metadata", "spec", "status"])
        if let apiVersion = try object.string("apiVersion"), !apiVersion.hasPrefix("hco.kubevirt.io/") {
            throw object.error("apiVersion", "\"\(apiVersion)\" is not hco.kubevirt.io")
        }
        var settings = HyperConvergedSettings()
        if let status = try object.object("status"), let schedule = try status.string("dataImportSchedule"), !schedule.isEmpty {
            do {
                _ = try CronSchedule(parsing: schedule)
            } catch let error as DiskImportError {
                throw status.error("dataImportSchedule", "is invalid: \(error.message)")
            }
            settings.dataImportSchedule = schedule
        }
        guard let spec = try object.object("spec") else { return (settings, []) }
        let used: Set<String> = ["featureGates", "dataImportCronTemplates", "filesystemOverhead", "scratchSpaceStorageClass",
                                 "enableCommonBootImageImport", "commonBootImageNamespace", "workloadSources", "storage"]
        // A HyperConverged spec configures the whole cluster; only the boot-source fields mean anything here.
        let unused = spec.keys.filter { !used.contains($0) }
        if !unused.isEmpty {
            d.warn("\(d.location(node)): \(object.owner): fields not used by the local controller ignored: \(unused.map { "spec.\($0)" }.joined(separator: ", "))")
        }
        let workloadSources = try spec.object("workloadSources")
        workloadSources?.warnUnknown(
            known: ["enableCommonBootImageImport", "enableMultiArchBootImageImport", "commonBootImageNamespace", "dataImportCronTemplates"],
            ignored: ["commonTemplatesNamespace", "instancetypeConfig", "commonInstancetypesDeployment"])
        let storage = try spec.object("storage")
        storage?.warnUnknown(known: ["filesystemOverhead", "scratchSpaceStorageClass"],
                             ignored: ["vmStateStorageClass", "storageImport", "workloadResourceRequirements", "persistentReservationConfiguration"])
        let layouts = LayoutPair(v1beta1: spec, workloadSources: workloadSources, storage: storage, diagnostics: d, owner: object.owner)

        let gates = try FeatureGates(spec, d)
        settings.enableCommonBootImageImport = try layouts.value(
            v1beta1: spec.bool("enableCommonBootImageImport").map { ("spec.enableCommonBootImageImport", $0) }
                ?? gates.deprecatedCommonBootImageImport,
            v1: workloadSources?.bool("enableCommonBootImageImport")) ?? true
        settings.enableMultiArchBootImageImport = try layouts.value(
            v1beta1: gates.v1beta1MultiArch.map { ("spec.featureGates.\(multiArchGate)", $0) },
            v1: workloadSources?.bool("enableMultiArchBootImageImport") ?? gates.v1MultiArch) ?? false
        settings.commonBootImageNamespace = try layouts.value(
            v1beta1: spec.string("commonBootImageNamespace").map { ("spec.commonBootImageNamespace", $0) },
            v1: workloadSources?.string("commonBootImageNamespace")).flatMap { $0.isEmpty ? nil : $0 }
        settings.scratchSpaceStorageClass = try layouts.value(
            v1beta1: spec.string("scratchSpaceStorageClass").map { ("spec.scratchSpaceStorageClass", $0) },
            v1: storage?.string("scratchSpaceStorageClass"), v1Path: "spec.storage")
        let v1beta1Overhead = try spec.object("filesystemOverhead")
        if let overhead = try layouts.value(v1beta1: v1beta1Overhead.map { ("spec.filesystemOverhead", $0) },
                                            v1: storage?.object("filesystemOverhead"), v1Path: "spec.storage") {
            try readOverhead(overhead, into: &settings)
        }
        let templates = try layouts.value(
            v1beta1: spec.sequence("dataImportCronTemplates").map { ("spec.dataImportCronTemplates", $0) },
            v1: workloadSources?.sequence("dataImportCronTemplates")) ?? []
        return (settings, templates)
    }

    private static func readOverhead(_ overhead: YAMLFields, into settings: inout HyperConvergedSettings) throws {
        overhead.warnUnknown(known: ["global", "storageClass"])
        settings.globalFilesystemOverhead = try fraction(overhead, "global")
        if let perClass = try overhead.object("storageClass") {
            for className in perClass.keys {
                settings.storageClassFilesystemOverhead[className] = try fraction(perClass, className)
            }
        }
    }

    /// A filesystem overhead as HCO's API has it: CDI's `Percent`, a string matching `^(0(?:\.\d{1,3})?|1)$`
    /// (the pattern of HCO's CRD, which the API server enforces), read as CDI reads it (`FilesystemOverhead(percent:)`).
    private static func fraction(_ fields: YAMLFields, _ key: String) throws -> FilesystemOverhead? {
        guard let text = try fields.string(key) else { return nil }
        guard let value = FilesystemOverhead(percent: text) else {
            throw fields.error(key, "\"\(text)\" is not a fraction from 0 to 1 with at most 3 decimals, such as \"0.055\"")
        }
        return value
    }
}

/// One setting read from both layouts: v1's value wins, with a warning when the v1beta1 one is there too.
private struct LayoutPair {
    let v1beta1: YAMLFields
    let workloadSources: YAMLFields?
    let storage: YAMLFields?
    let diagnostics: ConfigDiagnostics
    let owner: String

    /// `v1beta1` carries the dotted path it was read from, for the warning.
    func value<T>(v1beta1: (String, T)?, v1: T?, v1Path: String = "spec.workloadSources") -> T? {
        guard let v1 else { return v1beta1?.1 }
        if let (path, _) = v1beta1 {
            let key = path.split(separator: ".").last.map(String.init) ?? path
            diagnostics.warn("\(diagnostics.location(self.v1beta1.node)): \(owner): \(path) (v1beta1) and \(v1Path).\(key) (v1) "
                + "are both set; using \(v1Path).\(key)")
        }
        return v1
    }
}

/// `spec.featureGates` in either shape: v1beta1's mapping of booleans, v1's list of `{name, state}`.
private struct FeatureGates {
    /// v1beta1 `featureGates.enableMultiArchBootImageImport`.
    var v1beta1MultiArch: Bool?
    /// v1's deprecated list entry: `state` Enabled (the default when omitted) or Disabled.
    var v1MultiArch: Bool?
    /// `featureGates.enableCommonBootImageImport`, from before HCO moved it to the spec (HCO now ignores it; it is
    /// honoured here, with a warning, when the spec does not set the value).
    var deprecatedCommonBootImageImport: (String, Bool)?

    init(_ spec: YAMLFields, _ d: ConfigDiagnostics) throws {
        guard let node = spec.value("featureGates") else { return }
        if node.sequence != nil {
            for item in try spec.sequence("featureGates") ?? [] {
                let gate = try YAMLFields(item, path: "spec.featureGates[]", owner: spec.owner, diagnostics: d)
                guard try gate.requiredString("name") == HyperConvergedSettings.multiArchGate else { continue }
                let state = try gate.string("state") ?? "Enabled"
                guard state == "Enabled" || state == "Disabled" else { throw gate.error("state", "\"\(state)\" is not one of Enabled, Disabled") }
                v1MultiArch = state == "Enabled"
            }
            return
        }
        guard let gates = try spec.object("featureGates") else { return }
        v1beta1MultiArch = try gates.bool(HyperConvergedSettings.multiArchGate)
        if let old = try gates.bool("enableCommonBootImageImport") {
            d.warn("\(d.location(gates.mapping["enableCommonBootImageImport"])): \(spec.owner): spec.featureGates.enableCommonBootImageImport "
                + "is deprecated (HCO now reads spec.enableCommonBootImageImport, or spec.workloadSources.enableCommonBootImageImport in v1)")
            deprecatedCommonBootImageImport = ("spec.featureGates.enableCommonBootImageImport", old)
        }
    }
}
