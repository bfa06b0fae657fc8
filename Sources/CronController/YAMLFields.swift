import DiskImportCore
import Yams

/// Collects the warnings of one configuration load and names where things are (`crons.yaml line 12`).
final class ConfigDiagnostics {
    let source: String
    private(set) var warnings: [String] = []

    init(source: String) { self.source = source }

    func warn(_ message: String) { warnings.append(message) }

    func location(_ node: Node?) -> String {
        guard let line = node?.mark?.line else { return source }
        return "\(source) line \(line)"
    }
}

/// A YAML mapping read field by field, as a Kubernetes object's fields are: typed accessors that name the full
/// field path in their errors (`spec.template.spec.source.registry.url`), and a report of the keys nobody asked for.
struct YAMLFields {
    let node: Node
    let mapping: Node.Mapping
    /// The dotted path of this mapping inside its object, empty at the top.
    let path: String
    /// Who the object is, for messages: `DataImportCron "fedora"`.
    let owner: String
    let diagnostics: ConfigDiagnostics

    init(_ node: Node, path: String, owner: String, diagnostics: ConfigDiagnostics) throws {
        guard let mapping = node.mapping else {
            throw DiskImportError.usage("\(diagnostics.location(node)): \(owner): \(path.isEmpty ? "the object" : path) must be a mapping")
        }
        self.node = node
        self.mapping = mapping
        self.path = path
        self.owner = owner
        self.diagnostics = diagnostics
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ problem: String) -> DiskImportError {
        DiskImportError.usage("\(diagnostics.location(mapping[key] ?? node)): \(owner): \(fieldPath(key)) \(problem)")
    }

    /// The value under `key`, or nil when it is absent or null (`key:` or `key: null`).
    func value(_ key: String) -> Node? {
        guard let v = mapping[key] else { return nil }
        if v.null != nil { return nil }
        return v
    }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.scalar?.string else { throw error(key, "must be a string") }
        return s
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key), !s.isEmpty else { throw error(key, "is required") }
        return s
    }

    func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let s = v.scalar?.string, let n = Int(s.trimmingSpaces()) else { throw error(key, "must be an integer") }
        return n
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        switch v.scalar?.string.lowercased() {
        case "true": return true
        case "false": return false
        default: throw error(key, "must be true or false")
        }
    }

    func object(_ key: String) throws -> YAMLFields? {
        guard let v = value(key) else { return nil }
        return try YAMLFields(v, path: fieldPath(key), owner: owner, diagnostics: diagnostics)
    }

    func requiredObject(_ key: String) throws -> YAMLFields {
        guard let o = try object(key) else { throw error(key, "is required") }
        return o
    }

    func sequence(_ key: String) throws -> [Node]? {
        guard let v = value(key) else { return nil }
        guard let items = v.sequence else { throw error(key, "must be a list") }
        return Array(items)
    }

    /// A map of strings (labels, annotations); values that are not strings are errors, as in Kubernetes.
    func stringMap(_ key: String) throws -> [String: String] {
        guard let fields = try object(key) else { return [:] }
        var result: [String: String] = [:]
        for (k, v) in fields.mapping {
            guard let name = k.scalar?.string, let text = v.scalar?.string else {
                throw error(key, "must map strings to strings")
            }
            result[name] = text
        }
        return result
    }

    /// The keys present in this mapping.
    var keys: [String] { mapping.keys.compactMap { $0.scalar?.string } }

    /// Warns about every key that is neither `known` (read by the controller) nor `ignored` (a Kubernetes or CDI
    /// field that means nothing locally, such as `accessModes`).
    func warnUnknown(known: Set<String>, ignored: Set<String> = []) {
        let unknown = keys.filter { !known.contains($0) && !ignored.contains($0) }
        guard !unknown.isEmpty else { return }
        let names = unknown.map(fieldPath).joined(separator: ", ")
        let firstKey = mapping.keys.first { $0.scalar?.string == unknown[0] }
        diagnostics.warn("\(diagnostics.location(firstKey ?? node)): \(owner): unknown field\(unknown.count > 1 ? "s" : "") \(names) ignored")
    }
}
