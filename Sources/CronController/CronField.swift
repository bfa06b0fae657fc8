import DiskImportCore

/// One of the five fields of a cron expression, parsed into a bit set the way robfig/cron v3 (the parser behind
/// Kubernetes CronJobs, and so behind CDI's DataImportCron polls) does it.
///
/// A field is a comma-separated list of ranges: `*` or `?`, `N`, `N-M`, each optionally followed by `/STEP`.
/// `N/STEP` means `N-max/STEP` (so hour `8/12` is 8 and 20). A range that starts with `*` and has no step above 1
/// marks the field as unrestricted, which decides how day of month and day of week combine.
struct CronField: Equatable, Sendable {
    struct Bounds: Sendable {
        let name: String
        let min: Int
        let max: Int
        /// The largest value a plain number may have: 7 for day of week, where 7 is Sunday as in Vixie cron.
        let maxLiteral: Int
        let names: [String: Int]
    }

    static let minute = Bounds(name: "minute", min: 0, max: 59, maxLiteral: 59, names: [:])
    static let hour = Bounds(name: "hour", min: 0, max: 23, maxLiteral: 23, names: [:])
    static let dayOfMonth = Bounds(name: "day of month", min: 1, max: 31, maxLiteral: 31, names: [:])
    static let month = Bounds(name: "month", min: 1, max: 12, maxLiteral: 12, names: [
        "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
        "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
    ])
    static let dayOfWeek = Bounds(name: "day of week", min: 0, max: 6, maxLiteral: 7, names: [
        "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
    ])

    /// Bit `v` is set when value `v` matches.
    let bits: UInt64
    /// The field was written as `*` / `?` (optionally `/1`): robfig's star bit.
    let isStar: Bool

    func contains(_ value: Int) -> Bool { bits & (1 << UInt64(value)) != 0 }

    /// Parses `text` for the field described by `bounds`; errors name the field and the offending part.
    init(parsing text: String, _ bounds: Bounds) throws {
        var bits: UInt64 = 0
        var star = false
        let ranges = text.split(separator: ",", omittingEmptySubsequences: false)
        for range in ranges {
            let (rangeBits, rangeStar) = try CronField.parseRange(String(range), bounds, whole: text)
            bits |= rangeBits
            star = star || rangeStar
        }
        if bounds.maxLiteral == 7, bits & (1 << 7) != 0 {
            // 7 is another name for Sunday.
            bits = (bits & ~(1 << 7)) | 1
        }
        self.bits = bits
        isStar = star
    }

    private static func parseRange(_ expr: String, _ bounds: Bounds, whole: String) throws -> (UInt64, Bool) {
        func fail(_ problem: String) -> DiskImportError {
            DiskImportError.usage("\(bounds.name) field \"\(whole)\": \(problem)")
        }
        guard !expr.isEmpty else { throw fail("empty list element") }
        let rangeAndStep = expr.split(separator: "/", omittingEmptySubsequences: false)
        guard rangeAndStep.count <= 2 else { throw fail("too many slashes in \"\(expr)\"") }
        let lowAndHigh = rangeAndStep[0].split(separator: "-", omittingEmptySubsequences: false)
        guard lowAndHigh.count <= 2 else { throw fail("too many hyphens in \"\(expr)\"") }

        var start: Int, end: Int
        var star = false
        if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
            guard lowAndHigh.count == 1 else { throw fail("\"\(expr)\": a star cannot start a range") }
            start = bounds.min
            end = bounds.max
            star = true
        } else {
            start = try value(lowAndHigh[0], bounds, fail)
            end = lowAndHigh.count == 2 ? try value(lowAndHigh[1], bounds, fail) : start
        }
        var step = 1
        if rangeAndStep.count == 2 {
            guard let s = Int(rangeAndStep[1]), rangeAndStep[1].allSatisfy(\.isASCIIDigit), rangeAndStep[1].count <= 4 else {
                throw fail("step \"\(rangeAndStep[1])\" is not a number")
            }
            step = s
            // "N/step" means "N-max/step".
            if lowAndHigh.count == 1 && !star { end = bounds.max }
            if step > 1 { star = false }
        }
        guard start >= bounds.min else { throw fail("beginning of range (\(start)) below minimum (\(bounds.min))") }
        guard end <= bounds.maxLiteral else { throw fail("end of range (\(end)) above maximum (\(bounds.max))") }
        guard start <= end else { throw fail("beginning of range (\(start)) beyond end of range (\(end))") }
        guard step > 0 else { throw fail("step of range should be a positive number") }
        var bits: UInt64 = 0
        var v = start
        while v <= end {
            bits |= 1 << UInt64(v)
            v += step
        }
        return (bits, star)
    }

    private static func value(_ text: Substring, _ bounds: Bounds, _ fail: (String) -> DiskImportError) throws -> Int {
        if let named = bounds.names[text.lowercased()] { return named }
        guard !text.isEmpty, text.count <= 4, text.allSatisfy(\.isASCIIDigit), let n = Int(text) else {
            throw fail("\"\(text)\" is not a number\(bounds.names.isEmpty ? "" : " or a name")")
        }
        return n
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
