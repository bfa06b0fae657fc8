import DiskImportCore

/// The fraction of a filesystem kept free for the filesystem's own metadata (CDI's `filesystemOverhead`),
/// held exactly as the decimal the user wrote: "0.055" is 55/1000, never the nearest Double.
public struct FilesystemOverhead: Sendable, Equatable, CustomStringConvertible {
    /// The overhead is `numerator / denominator`; `denominator` is a power of ten.
    public let numerator: UInt64
    public let denominator: UInt64
    /// The text it was parsed from, for messages.
    public let description: String

    /// OpenShift's documented default of 5.5%.
    public static let standard = FilesystemOverhead(numerator: 55, denominator: 1000, description: "0.055")

    private init(numerator: UInt64, denominator: UInt64, description: String) {
        self.numerator = numerator
        self.denominator = denominator
        self.description = description
    }

    /// Parses a decimal fraction from 0 to 1 such as "0.055", "0", "1", ".06" (at most 18 fractional digits).
    /// Throws a `.usage` error naming the text otherwise.
    public init(parsing text: String) throws {
        let s = text.trimmingSpaces()
        let invalid = DiskImportError.usage("invalid filesystem overhead \"\(text)\": expected a decimal fraction from 0 to 1, such as 0.055")
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !s.isEmpty, parts.count <= 2 else { throw invalid }
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty), fraction.count <= 18,
              (whole + fraction).utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              whole.count <= 18 else { throw invalid }
        var denominator: UInt64 = 1
        for _ in 0..<fraction.count { denominator *= 10 }
        let w = whole.isEmpty ? 0 : UInt64(whole) ?? UInt64.max
        let f = fraction.isEmpty ? 0 : UInt64(fraction) ?? UInt64.max
        // 0 <= o <= 1, so whole is 0 (any fraction) or 1 (fraction zero).
        guard w == 0 || (w == 1 && f == 0) else { throw invalid }
        self.init(numerator: w == 1 ? denominator : f, denominator: denominator, description: s)
    }
}

/// The space rules of DESIGN.md section 5, in exact integer arithmetic.
public enum SpaceRules {
    public static let mebibyte: UInt64 = 1 << 20

    /// `roundDown(ceil(avail / (1 + o)), 1 MiB)`: the largest disk a filesystem with `available` free bytes holds
    /// once the overhead `o` is set aside.
    public static func usable(available: UInt64, overhead o: FilesystemOverhead) -> UInt64 {
        // avail / (1 + n/d) = avail * d / (d + n); the quotient never exceeds avail, so it fits in 64 bits.
        let divisor = o.denominator + o.numerator
        let product = available.multipliedFullWidth(by: o.denominator)
        let (quotient, remainder) = divisor.dividingFullWidth(product)
        let ceiling = remainder == 0 ? quotient : quotient + 1
        return ceiling - ceiling % mebibyte
    }

    /// `ceil(roundUp(size, 1 MiB) * (1 + o))`: the filesystem size a disk of `size` bytes needs.
    /// Nil when the answer does not fit in 64 bits.
    public static func required(size: UInt64, overhead o: FilesystemOverhead) -> UInt64? {
        let (padded, o1) = size.addingReportingOverflow(mebibyte - 1)
        if o1 { return nil }
        let rounded = padded - padded % mebibyte
        // rounded * (d + n) / d, rounded up.
        let (sum, o2) = o.denominator.addingReportingOverflow(o.numerator)
        if o2 { return nil }
        let product = rounded.multipliedFullWidth(by: sum)
        guard product.high < o.denominator else { return nil }
        let (quotient, remainder) = o.denominator.dividingFullWidth(product)
        if remainder == 0 { return quotient }
        let (ceiling, o3) = quotient.addingReportingOverflow(1)
        return o3 ? nil : ceiling
    }
}
