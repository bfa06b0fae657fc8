/// Kubernetes resource quantities as byte counts: `10Gi`, `1G`, `1536000`, `1.5Gi`, `1e9`.
///
/// Follows k8s.io/apimachinery's resource.Quantity for the forms that storage requests use; fractional
/// byte counts round up, as Kubernetes does when it turns a quantity into an integer.
public enum Quantity {
    private static let binarySuffixes: [(String, UInt64)] = [
        ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50), ("Ei", 1 << 60),
    ]
    private static let decimalSuffixes: [(String, Int)] = [
        ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18),
    ]

    /// Parses `text` into a byte count; throws a `.usage` error naming the text when it is not a quantity
    /// of bytes (negative, milli-units that are not whole bytes, overflow).
    public static func bytes(_ text: String) throws -> UInt64 {
        let s = text.trimmingSpaces()
        guard !s.isEmpty else { throw invalid(text) }
        var number = Substring(s)
        var multiplier = Rational(1)
        if let (suffix, m) = binarySuffixes.first(where: { s.hasSuffix($0.0) }) {
            number = number.dropLast(suffix.count)
            multiplier = Rational(m)
        } else if let (suffix, e) = decimalSuffixes.first(where: { s.hasSuffix($0.0) }) {
            number = number.dropLast(suffix.count)
            multiplier = Rational.powerOfTen(e)
        } else if s.hasSuffix("m") {
            number = number.dropLast()
            multiplier = Rational(1, 1000)
        } else if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let exponent = Int(s[s.index(after: e)...]), (0...18).contains(exponent) else { throw invalid(text) }
            number = s[..<e]
            multiplier = Rational.powerOfTen(exponent)
        }
        guard let value = Rational(decimal: number) else { throw invalid(text) }
        guard let product = value.multiplied(by: multiplier), let bytes = product.roundedUp() else {
            throw DiskImportError.usage("quantity \"\(text)\" is too large")
        }
        return bytes
    }

    /// The error for text that is not a quantity, naming the suffixes that are (users of qemu-img write `10G`, `10K`
    /// or `10g`, which mean other things or nothing here).
    static func invalid(_ text: String) -> DiskImportError {
        let binary = binarySuffixes.map(\.0).joined(separator: " "), decimal = decimalSuffixes.map(\.0).joined(separator: " ")
        return DiskImportError.usage("invalid quantity \"\(text.prefix(80))\": a Kubernetes quantity is a number of bytes with "
            + "an optional suffix, \(binary) (powers of 1024) or \(decimal) (powers of 1000), such as 10Gi or 1500M")
    }

    /// Formats a byte count the way people read sizes: `10 GiB`, `1.5 MiB`, `512 B`.
    public static func describe(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded)) \(units[unit])" : "\(rounded) \(units[unit])"
    }
}

/// An exact non-negative fraction of 64-bit integers, enough for quantities of bytes.
private struct Rational {
    var numerator: UInt64
    var denominator: UInt64

    init(_ n: UInt64, _ d: UInt64 = 1) {
        numerator = n
        denominator = d
    }

    static func powerOfTen(_ e: Int) -> Rational {
        var v: UInt64 = 1
        for _ in 0..<e { v *= 10 }
        return Rational(v)
    }

    /// "12", "1.5", ".25"; no sign, at most 18 fractional digits.
    init?(decimal text: Substring) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !text.isEmpty, parts.count <= 2, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }) else { return nil }
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty), fraction.count <= 18 else { return nil }
        guard let w = whole.isEmpty ? 0 : UInt64(whole) else { return nil }
        let scale = Rational.powerOfTen(fraction.count).numerator
        guard let f = fraction.isEmpty ? 0 : UInt64(fraction) else { return nil }
        let (scaled, o1) = w.multipliedReportingOverflow(by: scale)
        let (sum, o2) = scaled.addingReportingOverflow(f)
        if o1 || o2 { return nil }
        self.init(sum, scale)
    }

    func multiplied(by other: Rational) -> Rational? {
        // Reduce before multiplying so "1.5Gi" does not overflow.
        let g1 = gcd(numerator, other.denominator), g2 = gcd(other.numerator, denominator)
        let (n, o1) = (numerator / g1).multipliedReportingOverflow(by: other.numerator / g2)
        let (d, o2) = (denominator / g2).multipliedReportingOverflow(by: other.denominator / g1)
        return o1 || o2 ? nil : Rational(n, d)
    }

    func roundedUp() -> UInt64? {
        let q = numerator / denominator
        return numerator % denominator == 0 ? q : q.addingReportingOverflow(1).overflow ? nil : q + 1
    }

    private func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return max(a, 1)
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (Foundation-free).
    public func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
