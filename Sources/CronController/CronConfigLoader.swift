import DiskImportCore
import Fetch
import Yams

/// What a `--config` file holds: the crons, the HyperConverged settings when the file is a HyperConverged object,
/// and the warnings (unknown fields) met while reading it.
public struct CronConfig: Sendable {
    public var crons: [DataImportCron] = []
    public var hyperConverged: HyperConvergedSettings?
    /// A HyperConverged object's templates as HCO reports them (`status.dataImportCronTemplates`).
    public var templates: [TemplateStatus] = []
    /// DataSources that point at another one (multi-arch boot sources' unsuffixed names).
    public var dataSourceReferences: [DataSourceReference] = []
    public var warnings: [String] = []

    public init() {}
}

/// Reads DataImportCron objects exactly as CDI writes them, in any of the shapes people keep them in:
/// one or more YAML documents each holding a `kind: DataImportCron`, a `kind: List` or a plain YAML list of them,
/// a mapping with HyperConverged-style `dataImportCronTemplates`, or a whole `kind: HyperConverged` object.
public enum CronConfigLoader {
    /// `architectures` are the cluster's (`--architectures`), in order, for multi-arch boot sources: the first one
    /// a template has is its default.
    public static func load(path: String, architectures: [String] = defaultArchitectures) throws -> CronConfig {
        try parse(yaml: try FileSystem.readText(path), source: path, architectures: architectures)
    }

    /// This machine's architecture, in the registry's (Go's) spelling.
    public static var defaultArchitectures: [String] { [RegistryPlatform.host.architecture] }

    public static func parse(yaml: String, source: String, architectures: [String] = defaultArchitectures) throws -> CronConfig {
        let diagnostics = ConfigDiagnostics(source: source)
        var config = CronConfig()
        var documents: [Node] = []
        do {
            // Parser.nextRoot rather than compose_all, whose sequence swallows errors.
            let parser = try Parser(yaml: yaml)
            while let document = try parser.nextRoot() { documents.append(document) }
        } catch let error as YamlError {
            throw DiskImportError.usage("\(source): invalid YAML: \(firstLine(of: error.description))")
        }
        for (index, document) in documents.enumerated() {
            try readDocument(document, index: index + 1, into: &config, architectures: architectures, diagnostics)
        }
        try validate(config, source: source)
        if config.crons.isEmpty && config.hyperConverged == nil {
            diagnostics.warn("\(source): no DataImportCron found")
        }
        config.warnings = diagnostics.warnings
        return config
    }

    private static func readDocument(_ node: Node, index: Int, into config: inout CronConfig, architectures: [String],
                                     _ d: ConfigDiagnostics) throws {
        if node.null != nil { return }
        if let items = node.sequence {
            for item in items { try readObject(item, into: &config, architectures: architectures, d) }
            return
        }
        guard let mapping = node.mapping else {
            throw DiskImportError.usage("\(d.location(node)): document \(index) is neither an object nor a list of objects")
        }
        if mapping["kind"] == nil, mapping["spec"] == nil, mapping["dataImportCronTemplates"] != nil {
            let top = try YAMLFields(node, path: "", owner: "document \(index)", diagnostics: d)
            top.warnUnknown(known: ["dataImportCronTemplates"])
            for item in try top.sequence("dataImportCronTemplates") ?? [] {
                config.crons.append(try readCron(item, kind: "dataImportCronTemplates entry", d))
            }
            return
        }
        try readObject(node, into: &config, architectures: architectures, d)
    }

    /// One Kubernetes object: a DataImportCron, a List of objects, a HyperConverged, or an HCO template entry
    /// (`metadata` + `spec` without `kind`).
    private static func readObject(_ node: Node, into config: inout CronConfig, architectures: [String], _ d: ConfigDiagnostics) throws {
        guard let mapping = node.mapping else {
            throw DiskImportError.usage("\(d.location(node)): a list entry is not an object")
        }
        let kind = mapping["kind"]?.scalar?.string
        switch kind {
        case "DataImportCron", nil:
            if let apiVersion = mapping["apiVersion"]?.scalar?.string, !apiVersion.hasPrefix("cdi.kubevirt.io/") {
                throw DiskImportError.usage("\(d.location(node)): apiVersion \(apiVersion) is not cdi.kubevirt.io for kind DataImportCron")
            }
            config.crons.append(try readCron(node, kind: kind ?? "dataImportCronTemplates entry", d))
        case "List", "DataImportCronList":
            let list = try YAMLFields(node, path: "", owner: kind ?? "List", diagnostics: d)
            for item in try list.sequence("items") ?? [] { try readObject(item, into: &config, architectures: architectures, d) }
        case "HyperConverged":
            guard config.hyperConverged == nil else {
                throw DiskImportError.usage("\(d.location(node)): more than one HyperConverged object")
            }
            let (settings, templates) = try HyperConvergedSettings.read(node, d)
            config.hyperConverged = settings
            let resolved = try HyperConvergedTemplates.resolve(templates, settings: settings, architectures: architectures, d)
            config.crons += resolved.crons
            config.templates = resolved.templates
            config.dataSourceReferences = resolved.references
        case let other?:
            throw DiskImportError.usage("\(d.location(node)): kind \(other) is not a DataImportCron, List or HyperConverged")
        }
    }

    private static let metadataIgnored: Set<String> = [
        "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences",
        "finalizers", "generateName", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
    ]

    /// Reads one DataImportCron (or HCO template, the same shape without apiVersion and kind).
    static func readCron(_ node: Node, kind: String, _ d: ConfigDiagnostics) throws -> DataImportCron {
        let nameHint = node.mapping?["metadata"]?.mapping?["name"]?.scalar?.string
        let owner = nameHint.map { "DataImportCron \"\($0)\"" } ?? kind
        let object = try YAMLFields(node, path: "", owner: owner, diagnostics: d)
        object.warnUnknown(known: ["apiVersion", "kind", "metadata", "spec"], ignored: ["status"])

        let metadata = try object.requiredObject("metadata")
        metadata.warnUnknown(known: ["name", "namespace", "labels", "annotations"], ignored: metadataIgnored)
        let name = try metadata.requiredString("name")
        guard ObjectName.isValid(name) else {
            throw metadata.error("name", "\"\(name)\" is not a valid name (lowercase letters, digits, '-' and '.')")
        }

        let spec = try object.requiredObject("spec")
        spec.warnUnknown(known: ["template", "schedule", "garbageCollect", "importsToKeep", "managedDataSource", "retentionPolicy"])
        let managedDataSource = try spec.requiredString("managedDataSource")
        guard ObjectName.isValid(managedDataSource) else {
            throw spec.error("managedDataSource", "\"\(managedDataSource)\" is not a valid name (lowercase letters, digits, '-' and '.')")
        }
        let scheduleText = try spec.string("schedule") ?? ""
        var schedule: CronSchedule?
        if !scheduleText.trimmingSpaces().isEmpty {
            do {
                schedule = try CronSchedule(parsing: scheduleText)
            } catch let error as DiskImportError {
                throw spec.error("schedule", "is invalid: \(error.message)")
            }
        }

        let template = try spec.requiredObject("template")
        template.warnUnknown(known: ["metadata", "spec"], ignored: ["apiVersion", "kind", "status"])
        let templateSpec = try template.requiredObject("spec")
        templateSpec.warnUnknown(
            known: ["source", "storage", "pvc", "contentType", "preallocation"],
            ignored: ["priorityClassName"])
        let source = try readSource(templateSpec)
        let storage = try readStorage(templateSpec)
        if let contentType = try templateSpec.string("contentType"), contentType != "kubevirt" {
            throw templateSpec.error("contentType", "\"\(contentType)\" is not supported: a cron imports kubevirt disk images")
        }

        var cron = DataImportCron(name: name, schedule: schedule, source: source, storage: storage, managedDataSource: managedDataSource)
        cron.namespace = try metadata.string("namespace")
        cron.labels = try metadata.stringMap("labels")
        cron.annotations = try metadata.stringMap("annotations")
        cron.preallocation = try templateSpec.bool("preallocation") ?? false
        if let text = try spec.string("garbageCollect") {
            guard let policy = GarbageCollectPolicy(rawValue: text) else {
                throw spec.error("garbageCollect", "\"\(text)\" is not one of Outdated, Never")
            }
            cron.garbageCollect = policy
        }
        if let keep = try spec.int("importsToKeep") {
            if keep >= 0 {
                cron.importsToKeep = keep
            } else {
                d.warn("\(d.location(spec.mapping["importsToKeep"])): \(owner): spec.importsToKeep \(keep) is negative; using the default \(DataImportCron.defaultImportsToKeep)")
            }
        }
        if let text = try spec.string("retentionPolicy") {
            guard let policy = RetentionPolicy(spec: text) else {
                throw spec.error("retentionPolicy", "\"\(text)\" is not one of All (RetainAll), None")
            }
            cron.retentionPolicy = policy
        }
        return cron
    }

    private static let otherSources: Set<String> = [
        "s3", "gcs", "blank", "pvc", "upload", "imageio", "vddk", "snapshot",
    ]

    /// `source.registry` as CDI has it, or `source.http` (beyond CDI: its webhook accepts only registry and PVC
    /// sources for a DataImportCron).
    private static func readSource(_ templateSpec: YAMLFields) throws -> CronSource {
        let source = try templateSpec.requiredObject("source")
        let given = ["registry", "http"].filter { source.value($0) != nil }
        if given.isEmpty, let other = source.keys.first(where: { otherSources.contains($0) }) {
            throw source.error(other, "is not supported: a DataImportCron imports from a registry (source.registry) or an HTTP server (source.http)")
        }
        guard given.count < 2 else { throw source.error("http", "and source.registry are both given: a cron has one source") }
        source.warnUnknown(known: ["registry", "http"])
        if source.value("http") != nil { return .http(try readHTTPSource(source)) }
        return .registry(try readRegistrySource(source))
    }

    private static func readRegistrySource(_ source: YAMLFields) throws -> RegistrySource {
        let registry = try source.requiredObject("registry")
        registry.warnUnknown(known: ["url", "imageStream", "pullMethod", "secretRef", "certConfigMap", "platform"])
        if try registry.string("imageStream") != nil, try registry.string("url") == nil {
            throw registry.error("imageStream", "is not supported: OpenShift ImageStreams do not exist locally; use url")
        }
        let url = try registry.requiredString("url")
        guard url.hasPrefix("docker://"), url.count > "docker://".count else {
            throw registry.error("url", "\"\(url)\" must be a docker:// reference (docker://registry/repository:tag)")
        }
        var result = RegistrySource(url: url)
        (result.secretRef, result.certConfigMap) = try accessReferences(registry)
        if let text = try registry.string("pullMethod") {
            guard let method = PullMethod(rawValue: text) else { throw registry.error("pullMethod", "\"\(text)\" is not one of pod, node") }
            result.pullMethod = method
        }
        if let platform = try registry.object("platform") {
            platform.warnUnknown(known: ["architecture"])
            result.architecture = try platform.string("architecture")
        }
        return result
    }

    /// `source.http` as a DataVolume has it (`url`, `secretRef`, `certConfigMap`), plus `checksumsUrl`.
    private static func readHTTPSource(_ source: YAMLFields) throws -> HTTPSource {
        let http = try source.requiredObject("http")
        http.warnUnknown(known: ["url", "secretRef", "certConfigMap", "checksumsUrl"])
        let url = try http.requiredString("url")
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), url.count > "https://".count else {
            throw http.error("url", "\"\(DisplayURL.redacted(url))\" must be an http:// or https:// URL")
        }
        var result = HTTPSource(url: url)
        (result.secretRef, result.certConfigMap) = try accessReferences(http)
        if let checksums = try http.string("checksumsUrl"), !checksums.isEmpty {
            result.checksumsURL = checksums
            guard let resolved = result.resolvedChecksumsURL,
                  resolved.lowercased().hasPrefix("http://") || resolved.lowercased().hasPrefix("https://") else {
                throw http.error("checksumsUrl", "\"\(checksums)\" is neither an http(s):// URL nor a path relative to the image's URL")
            }
        }
        return result
    }

    /// `secretRef` and `certConfigMap`: names of a Secret and a ConfigMap (empty means none).
    private static func accessReferences(_ fields: YAMLFields) throws -> (secretRef: String?, certConfigMap: String?) {
        let secretRef = try fields.string("secretRef").flatMap { $0.isEmpty ? nil : $0 }
        let certConfigMap = try fields.string("certConfigMap").flatMap { $0.isEmpty ? nil : $0 }
        for (key, value) in [("secretRef", secretRef), ("certConfigMap", certConfigMap)] {
            if let value, !ObjectName.isValid(value) { throw fields.error(key, "\"\(value)\" is not a valid name") }
        }
        return (secretRef, certConfigMap)
    }

    private static let storageIgnored: Set<String> = [
        "accessModes", "volumeMode", "selector", "volumeName", "dataSource", "dataSourceRef",
    ]

    private static func readStorage(_ templateSpec: YAMLFields) throws -> StorageRequest {
        let viaStorageAPI = try templateSpec.object("storage")
        let storage = try viaStorageAPI ?? templateSpec.object("pvc")
        guard let storage else { return StorageRequest() }
        storage.warnUnknown(known: ["resources", "storageClassName"], ignored: storageIgnored)
        var result = StorageRequest(storageClassName: try storage.string("storageClassName"))
        result.isPVCSpec = viaStorageAPI == nil
        if let resources = try storage.object("resources") {
            resources.warnUnknown(known: ["requests"], ignored: ["limits"])
            if let requests = try resources.object("requests") {
                requests.warnUnknown(known: ["storage"])
                if let text = try requests.string("storage") {
                    do {
                        result.size = try Quantity.bytes(text)
                        result.sizeText = text
                    } catch let error as DiskImportError {
                        throw requests.error("storage", "is invalid: \(error.message)")
                    }
                }
            }
        }
        return result
    }

    /// Cron names and managed DataSources are keys of the state store: each must be unique.
    private static func validate(_ config: CronConfig, source: String) throws {
        var names: Set<String> = [], dataSources: [String: String] = [:]
        for cron in config.crons {
            guard names.insert(cron.name).inserted else {
                throw DiskImportError.usage("\(source): DataImportCron \"\(cron.name)\" is defined twice")
            }
            if let other = dataSources[cron.managedDataSource] {
                throw DiskImportError.usage(
                    "\(source): DataSource \(cron.managedDataSource) is already managed by DataImportCron \(other) (also claimed by \(cron.name))")
            }
            dataSources[cron.managedDataSource] = cron.name
        }
        for reference in config.dataSourceReferences {
            if let other = dataSources[reference.name] {
                throw DiskImportError.usage("\(source): DataSource \(reference.name) is managed by DataImportCron \(other) "
                    + "and also names the default architecture's DataSource \(reference.target)")
            }
        }
    }

    private static func firstLine(of text: String) -> String {
        text.split(separator: "\n").first.map(String.init) ?? text
    }
}
