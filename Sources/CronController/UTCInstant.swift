import DiskImportCore

/// A moment in UTC with whole-second resolution: seconds since 1970-01-01T00:00:00Z.
///
/// The controller's clock is injected as one of these, so every tick is deterministic; it prints and parses as
/// RFC 3339 (`2026-11-23T08:55:00Z`), the form Kubernetes uses for timestamps in status.
public struct UTCInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// The instant at a civil date and time in UTC; nil when a field is out of range (month 13, February 30, hour 24).
    public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        guard (1...9999).contains(year), (1...12).contains(month), (1...CivilCalendar.daysIn(month: month, year: year)).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        let days = CivilCalendar.days(year: year, month: month, day: day)
        secondsSinceEpoch = days * 86400 + Int64(hour * 3600 + minute * 60 + second)
    }

    public static func < (a: UTCInstant, b: UTCInstant) -> Bool { a.secondsSinceEpoch < b.secondsSinceEpoch }

    public func adding(seconds: Int64) -> UTCInstant { UTCInstant(secondsSinceEpoch: secondsSinceEpoch + seconds) }

    /// Days since the epoch (floor) and the second within that day.
    var dayAndSecond: (day: Int64, second: Int64) {
        let day = secondsSinceEpoch.floorDivided(by: 86400)
        return (day, secondsSinceEpoch - day * 86400)
    }

    /// The civil date and time in UTC.
    public var civil: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let (day, second) = dayAndSecond
        let date = CivilCalendar.date(fromDays: day)
        let s = Int(second)
        return (date.year, date.month, date.day, s / 3600, s / 60 % 60, s % 60)
    }

    /// RFC 3339 in UTC, whole seconds: `2026-11-23T08:55:00Z`.
    public var description: String {
        let c = civil
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var year = String(c.year)
        while year.count < 4 { year = "0" + year }
        return "\(year)-\(two(c.month))-\(two(c.day))T\(two(c.hour)):\(two(c.minute)):\(two(c.second))Z"
    }

    /// Parses RFC 3339: `2026-11-23T08:55:00Z`, with optional fractional seconds (dropped) and a `±hh:mm` offset.
    public init(rfc3339 text: String) throws {
        let bytes = Array(text.utf8)
        let invalid = DiskImportError.usage("invalid time \"\(text)\": expected RFC 3339 such as 2026-11-23T08:55:00Z")
        func number(_ at: Int, _ count: Int) throws -> Int {
            guard at + count <= bytes.count else { throw invalid }
            var n = 0
            for b in bytes[at..<at + count] {
                guard b >= 48, b <= 57 else { throw invalid }
                n = n * 10 + Int(b - 48)
            }
            return n
        }
        func expect(_ at: Int, _ chars: String) throws {
            guard at < bytes.count, chars.utf8.contains(bytes[at]) else { throw invalid }
        }
        try expect(4, "-"); try expect(7, "-"); try expect(10, "Tt "); try expect(13, ":"); try expect(16, ":")
        let (year, month, day) = (try number(0, 4), try number(5, 2), try number(8, 2))
        let (hour, minute, second) = (try number(11, 2), try number(14, 2), try number(17, 2))
        var i = 19
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > start else { throw invalid }
        }
        var offset = 0
        guard i < bytes.count else { throw invalid }
        switch bytes[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            try expect(i + 3, ":")
            let (h, m) = (try number(i + 1, 2), try number(i + 4, 2))
            guard h <= 23, m <= 59 else { throw invalid }
            offset = (h * 3600 + m * 60) * (bytes[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        default:
            throw invalid
        }
        guard i == bytes.count, let local = UTCInstant(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { throw invalid }
        self = local.adding(seconds: Int64(-offset))
    }
}

extension UTCInstant: Codable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(rfc3339: text)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The proleptic Gregorian calendar as plain integer arithmetic on days since 1970-01-01
/// (Howard Hinnant's days_from_civil / civil_from_days), exact for every date and free of time zones.
enum CivilCalendar {
    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a civil date.
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// The civil date of a day count since 1970-01-01.
    static func date(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = z.floorDivided(by: 146097)
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    /// Day of the week, 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
    static func weekday(ofDays days: Int64) -> Int {
        Int((days + 4).floorModulo(7))
    }
}

extension Int64 {
    func floorDivided(by d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }

    func floorModulo(_ d: Int64) -> Int64 { self - floorDivided(by: d) * d }
}
