import DiskImportCore

/// The fraction of a filesystem volume CDI keeps for the filesystem's own metadata (`filesystemOverhead`), held as
/// the float64 CDI computes with: the text read as Go's `strconv.ParseFloat(text, 64)` reads it.
public struct FilesystemOverhead: Sendable, Equatable, CustomStringConvertible {
    /// What ParseFloat returns for `description`: 0.055 is the float64 nearest to 0.055, as in CDI.
    public let value: Double
    /// The text it was read from, for messages.
    public let description: String
    /// Which CDI release's formulas `SpaceRules` applies to it.
    public private(set) var arithmetic: OverheadArithmetic = .current

    /// 5.5%: the default HCO documents for `filesystemOverhead` (CDI's own CDIConfig default is 0.06,
    /// `common.DefaultGlobalOverhead`).
    public static let standard = FilesystemOverhead(value: 0.055, description: "0.055")
    /// No overhead: CDI's importer reads an unset FILESYSTEM_OVERHEAD as 0 (ParseFloat of "" fails and the
    /// error is dropped).
    public static let none = FilesystemOverhead(value: 0, description: "0")

    private init(value: Double, description: String) {
        self.value = value
        self.description = description
    }

    /// This overhead, computed with `arithmetic`.
    public func using(_ arithmetic: OverheadArithmetic) -> FilesystemOverhead {
        var overhead = self
        overhead.arithmetic = arithmetic
        return overhead
    }

    /// Any number Go's ParseFloat reads ("0.055", "5.5e-2", "0x1p-4", ".06") from 0 to 1. Throws a `.usage` error
    /// naming the text otherwise: CDI's importer would take a syntax error as 0 and use a value past 1 as it is,
    /// but its controller never writes either (see `init(percent:)`), so here they are mistakes to report.
    public init(parsing text: String) throws {
        guard let value = GoParseFloat.parse(text), value >= 0, value <= 1 else {
            throw DiskImportError.usage("invalid filesystem overhead \"\(text)\": expected a number from 0 to 1, such as 0.055")
        }
        self.init(value: value, description: text)
    }

    /// CDI's `Percent` type, the form of CDIConfig's and HCO's `filesystemOverhead.global` and
    /// `filesystemOverhead.storageClass.<name>`: `^(0(?:\.\d{1,3})?|1)$` (the CRDs' validation pattern, and
    /// config-controller.go's `validOverhead`), then ParseFloat. Nil for any other text.
    public init?(percent text: String) {
        let bytes = Array(text.utf8)
        let digits = bytes.dropFirst(2)
        let isDecimal = bytes.first == UInt8(ascii: "0")
            && (bytes.count == 1 || bytes.count >= 3 && bytes.count <= 5 && bytes[1] == UInt8(ascii: ".")
                && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        guard isDecimal || text == "1", let value = GoParseFloat.parse(text) else { return nil }
        self.init(value: value, description: text)
    }
}
