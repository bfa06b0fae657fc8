import DiskImportCore
import Target
import Yams

/// The parts of a HyperConverged object (hco.kubevirt.io/v1beta1) that concern boot sources.
public struct HyperConvergedSettings: Sendable, Equatable {
    /// `spec.featureGates.enableCommonBootImageImport`; HCO's default is true.
    public var enableCommonBootImageImport = true
    /// `spec.filesystemOverhead.global`, a fraction such as 0.055.
    public var globalFilesystemOverhead: FilesystemOverhead?
    /// `spec.filesystemOverhead.storageClass.<name>`.
    public var storageClassFilesystemOverhead: [String: FilesystemOverhead] = [:]
    /// `spec.scratchSpaceStorageClass`.
    public var scratchSpaceStorageClass: String?

    public init() {}

    /// The fraction of a volume's filesystem kept for the filesystem itself, for a class: the per-class value,
    /// else the global one, else 0.055.
    public func filesystemOverhead(storageClass: String?) -> FilesystemOverhead {
        if let storageClass, let value = storageClassFilesystemOverhead[storageClass] { return value }
        return globalFilesystemOverhead ?? .standard
    }

    /// Reads the settings and returns the `spec.dataImportCronTemplates` entries for the caller to read as crons.
    static func read(_ node: Node, _ d: ConfigDiagnostics) throws -> (HyperConvergedSettings, [Node]) {
        let name = node.mapping?["metadata"]?.mapping?["name"]?.scalar?.string
        let object = try YAMLFields(node, path: "", owner: "HyperConverged \"\(name ?? "")\"", diagnostics: d)
        object.warnUnknown(known: ["apiVersion", "kind", "metadata", "spec"], ignored: ["status"])
        if let apiVersion = try object.string("apiVersion"), !apiVersion.hasPrefix("hco.kubevirt.io/") {
            throw object.error("apiVersion", "\"\(apiVersion)\" is not hco.kubevirt.io")
        }
        var settings = HyperConvergedSettings()
        guard let spec = try object.object("spec") else { return (settings, []) }
        let used: Set<String> = ["featureGates", "dataImportCronTemplates", "filesystemOverhead", "scratchSpaceStorageClass"]
        // A HyperConverged spec configures the whole cluster; only the boot-source fields mean anything here.
        let unused = spec.keys.filter { !used.contains($0) }
        if !unused.isEmpty {
            d.warn("\(d.location(node)): \(object.owner): fields not used by the local controller ignored: \(unused.map { "spec.\($0)" }.joined(separator: ", "))")
        }
        if let gates = try spec.object("featureGates") {
            settings.enableCommonBootImageImport = try gates.bool("enableCommonBootImageImport") ?? true
        }
        if let overhead = try spec.object("filesystemOverhead") {
            overhead.warnUnknown(known: ["global", "storageClass"])
            settings.globalFilesystemOverhead = try fraction(overhead, "global")
            if let perClass = try overhead.object("storageClass") {
                for className in perClass.keys {
                    settings.storageClassFilesystemOverhead[className] = try fraction(perClass, className)
                }
            }
        }
        settings.scratchSpaceStorageClass = try spec.string("scratchSpaceStorageClass")
        return (settings, try spec.sequence("dataImportCronTemplates") ?? [])
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
