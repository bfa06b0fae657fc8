import DiskImportCore

/// Which CDI release's filesystem-overhead arithmetic `SpaceRules` reproduces. The importer pod and the upload
/// server must size a disk as the CDI controller they run under sized its claim, and CDI changed both sides at once
/// in v1.63.0 ("Fix math in overhead size calculations", kubevirt/containerized-data-importer#3779, commit
/// 26e34df4f, also backported to release-v1.62 after v1.62.0).
public enum OverheadArithmetic: String, Sendable, CaseIterable, CustomStringConvertible {
    /// CDI v1.63.0 and later, v1.66 included (pkg/util/util.go): `usable = RoundDown(ceil(avail / (1 + o)), 1 MiB)`,
    /// `required = ceil(RoundUp(size, 1 MiB) × (1 + o))`. The default.
    case current = "v1.63"
    /// CDI v1.62.0 and earlier (pkg/util/util.go `GetUsableSpace`, pkg/controller/common/util.go
    /// `GetRequiredSpace`): `usable = RoundDown(ceil((1 - o) × avail), 1 MiB)`, `required = ceil(RoundUp(size,
    /// 1 MiB) / (1 - o))`.
    case legacy = "v1.62"

    /// The variable the importer pod and the upload server read it from: CDI's controller sets no such variable,
    /// so an importer image meant for CDI v1.62.0 or earlier sets it in its own environment.
    public static let environmentVariable = "DISKIMPORT_OVERHEAD_ARITHMETIC"

    public var description: String { rawValue }

    /// `v1.63` or `v1.62` (a leading `v` optional); any other text is a `.usage` error naming both.
    public init(parsing text: String) throws {
        let release = text.hasPrefix("v") ? text : "v" + text
        guard let arithmetic = OverheadArithmetic(rawValue: release) else {
            throw DiskImportError.usage(
                "invalid overhead arithmetic \"\(text.prefix(40))\": expected v1.63 (CDI v1.63.0 and later, the default) or v1.62 (CDI v1.62.0 and earlier)")
        }
        self = arithmetic
    }

    /// The arithmetic an environment selects with `environmentVariable`: `.current` when it is unset or empty.
    public init(environment: [String: String]) throws {
        let text = environment[Self.environmentVariable] ?? ""
        do { self = text.isEmpty ? .current : try OverheadArithmetic(parsing: text) } catch let error as DiskImportError {
            throw DiskImportError.usage("\(Self.environmentVariable): \(error.message)")
        }
    }
}
