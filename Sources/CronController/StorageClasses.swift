import DiskImportCore
import Yams

/// A StorageClass as the local controller knows one: a name, a root directory (volumes live in
/// `<root>/volumes/<volume>/disk.img`), the two default-class annotations, and its StorageProfile's
/// `dataImportCronSourceFormat`.
public struct StorageClass: Sendable, Equatable {
    /// StorageProfile `dataImportCronSourceFormat`: what a DataSource of a boot source imported here points at.
    public enum SourceFormat: String, Sendable, Equatable {
        /// The imported volume itself.
        case pvc
        /// A snapshot of the volume: locally a reflink clone (FICLONE).
        case snapshot
    }

    public var name: String
    public var root: String
    /// `storageclass.kubernetes.io/is-default-class: "true"`.
    public var isClusterDefault = false
    /// `storageclass.kubevirt.io/is-default-virt-class: "true"`.
    public var isVirtDefault = false
    public var sourceFormat: SourceFormat = .pvc
    /// `deltaVolumes` (default true): on a root that makes reflinks, a cron's new volume shares the blocks its newest
    /// volume already holds (`convert --reference`); false imports every version as a full copy.
    public var deltaVolumes = true

    public init(name: String, root: String) {
        self.name = name
        self.root = root
    }

    public static let clusterDefaultAnnotation = "storageclass.kubernetes.io/is-default-class"
    public static let virtDefaultAnnotation = "storageclass.kubevirt.io/is-default-virt-class"
}

/// The storage classes of `--storage-classes FILE`, or the one class `default` rooted at `--storage DIR`.
public struct StorageClasses: Sendable {
    public let classes: [StorageClass]
    /// Several defaults of one kind: reported once per load, and the choice made deterministic (first by name).
    public let warnings: [String]

    public init(_ classes: [StorageClass]) {
        self.classes = classes.sorted { $0.name < $1.name }
        var warnings: [String] = []
        for (kind, annotation, marked) in [("virt-default", StorageClass.virtDefaultAnnotation, self.classes.filter(\.isVirtDefault)),
                                           ("default", StorageClass.clusterDefaultAnnotation, self.classes.filter(\.isClusterDefault))]
        where marked.count > 1 {
            warnings.append("\(marked.count) storage classes are marked \(kind) (\(annotation)): "
                + "\(marked.map(\.name).joined(separator: ", ")); using \(marked[0].name), the first by name")
        }
        self.warnings = warnings
    }

    /// Without `--storage-classes`: STORAGE is one default class named `default`.
    public static func single(root: String) -> StorageClasses {
        var only = StorageClass(name: defaultName, root: root)
        only.isClusterDefault = true
        return StorageClasses([only])
    }

    public static let defaultName = "default"

    public func named(_ name: String) -> StorageClass? { classes.first { $0.name == name } }

    /// The class a template's volume goes to: `storage.storageClassName` when given, else the virt-default class,
    /// else the cluster default (as CDI resolves it). Throws `.usage` naming what is missing: the caller makes it a
    /// waiting condition rather than a failure.
    public func choose(requested: String?) throws -> StorageClass {
        if let requested {
            guard let found = named(requested) else {
                throw DiskImportError.usage("storage class \(requested) (storage.storageClassName) does not exist"
                    + (classes.isEmpty ? "" : "; the classes are \(classes.map(\.name).joined(separator: ", "))"))
            }
            return found
        }
        if let virt = classes.first(where: \.isVirtDefault) { return virt }
        if let cluster = classes.first(where: \.isClusterDefault) { return cluster }
        throw DiskImportError.usage("no storage class is given (storage.storageClassName) and none is marked "
            + "\(StorageClass.virtDefaultAnnotation) or \(StorageClass.clusterDefaultAnnotation)")
    }

    /// Reads a YAML list of StorageClass-like objects (or a `kind: List` with `items`):
    /// `{metadata: {name, annotations}, root, dataImportCronSourceFormat}`.
    public static func load(path: String) throws -> StorageClasses {
        try parse(yaml: try FileSystem.readText(path), source: path)
    }

    public static func parse(yaml: String, source: String) throws -> StorageClasses {
        let diagnostics = ConfigDiagnostics(source: source)
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw DiskImportError.usage("\(source): not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        guard let node else { throw DiskImportError.usage("\(source): no storage classes (the file is empty)") }
        var items: [Node]
        if let list = node.sequence {
            items = Array(list)
        } else {
            let list = try YAMLFields(node, path: "", owner: "storage class list", diagnostics: diagnostics)
            items = try list.sequence("items") ?? []
        }
        var classes: [StorageClass] = []
        for item in items {
            let name = item.mapping?["metadata"]?.mapping?["name"]?.scalar?.string ?? ""
            let fields = try YAMLFields(item, path: "", owner: "storage class \"\(name)\"", diagnostics: diagnostics)
            fields.warnUnknown(known: ["metadata", "root", "dataImportCronSourceFormat", "deltaVolumes"],
                               ignored: ["apiVersion", "kind", "provisioner", "parameters", "reclaimPolicy", "volumeBindingMode",
                                         "allowVolumeExpansion"])
            let metadata = try fields.requiredObject("metadata")
            let className = try metadata.requiredString("name")
            guard ObjectName.isValid(className) else { throw metadata.error("name", "\"\(className)\" is not a valid object name") }
            guard !classes.contains(where: { $0.name == className }) else { throw metadata.error("name", "\(className) is listed twice") }
            let root = try fields.requiredString("root")
            guard root.hasPrefix("/") else { throw fields.error("root", "must be an absolute path, not \"\(root)\"") }
            var storageClass = StorageClass(name: className, root: root)
            let annotations = try metadata.stringMap("annotations")
            storageClass.isClusterDefault = annotations[StorageClass.clusterDefaultAnnotation] == "true"
            storageClass.isVirtDefault = annotations[StorageClass.virtDefaultAnnotation] == "true"
            if let format = try fields.string("dataImportCronSourceFormat") {
                guard let parsed = StorageClass.SourceFormat(rawValue: format) else {
                    throw fields.error("dataImportCronSourceFormat", "is \"\(format)\": expected pvc or snapshot")
                }
                storageClass.sourceFormat = parsed
            }
            if let delta = try fields.bool("deltaVolumes") { storageClass.deltaVolumes = delta }
            classes.append(storageClass)
        }
        let result = StorageClasses(classes)
        return StorageClasses(classes, warnings: diagnostics.warnings + result.warnings)
    }

    private init(_ classes: [StorageClass], warnings: [String]) {
        self.classes = classes.sorted { $0.name < $1.name }
        self.warnings = warnings
    }
}
