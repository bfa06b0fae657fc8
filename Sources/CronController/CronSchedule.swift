import DiskImportCore

/// A standard 5-field cron schedule (minute hour day-of-month month day-of-week), evaluated in UTC, with
/// robfig/cron v3's semantics: names of months and weekdays, `N/step` ranges, the `@daily`-style descriptors, and
/// the rule that day of month and day of week are ORed when both are restricted and ANDed when either is `*`.
///
/// Beyond robfig, 7 also means Sunday, and a schedule that can never fire (`0 0 30 2 *`) is refused when parsed
/// instead of being searched for.
public struct CronSchedule: Equatable, Sendable, CustomStringConvertible {
    public let expression: String
    let minute: CronField
    let hour: CronField
    let dayOfMonth: CronField
    let month: CronField
    let dayOfWeek: CronField

    public var description: String { expression }

    private static let descriptors: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    public init(parsing text: String) throws {
        let trimmed = text.trimmingSpaces()
        expression = trimmed
        func fail(_ problem: String) -> DiskImportError { DiskImportError.usage("schedule \"\(trimmed)\": \(problem)") }
        var spec = trimmed
        if spec.hasPrefix("@") {
            if spec.lowercased().hasPrefix("@every") {
                throw fail("@every intervals are not supported; use a 5-field schedule such as \"0 */12 * * *\"")
            }
            guard let expanded = CronSchedule.descriptors[spec.lowercased()] else { throw fail("unknown descriptor \(spec)") }
            spec = expanded
        }
        if spec.hasPrefix("TZ=") || spec.hasPrefix("CRON_TZ=") {
            throw fail("time zones are not supported: schedules are evaluated in UTC")
        }
        let fields = spec.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
        guard fields.count == 5 else {
            throw fail("expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        do {
            minute = try CronField(parsing: String(fields[0]), CronField.minute)
            hour = try CronField(parsing: String(fields[1]), CronField.hour)
            dayOfMonth = try CronField(parsing: String(fields[2]), CronField.dayOfMonth)
            month = try CronField(parsing: String(fields[3]), CronField.month)
            dayOfWeek = try CronField(parsing: String(fields[4]), CronField.dayOfWeek)
        } catch let error as DiskImportError {
            throw fail(error.message)
        }
        guard canEverFire else {
            throw fail("never fires: none of its days of month exist in its months")
        }
    }

    /// Whether the day-of-month and day-of-week fields combine with AND (either is `*`) rather than OR.
    private var daysCombineWithAnd: Bool { dayOfMonth.isStar || dayOfWeek.isStar }

    func dayMatches(day: Int, weekday: Int) -> Bool {
        let domMatch = dayOfMonth.contains(day), dowMatch = dayOfWeek.contains(weekday)
        return daysCombineWithAnd ? domMatch && dowMatch : domMatch || dowMatch
    }

    /// With OR, any allowed weekday occurs in every month. With AND, a day of month must exist in an allowed
    /// month (February counts its 29th); every date falls on every weekday in some year, so the weekday
    /// restriction never makes a schedule impossible.
    private var canEverFire: Bool {
        if !daysCombineWithAnd { return true }
        for m in 1...12 where month.contains(m) {
            let longest = m == 2 ? 29 : CivilCalendar.daysIn(month: m, year: 2001)
            if (1...longest).contains(where: dayOfMonth.contains) { return true }
        }
        return false
    }

    /// Whether the schedule fires at the minute that contains `instant`.
    public func matches(_ instant: UTCInstant) -> Bool {
        let (day, second) = instant.dayAndSecond
        let date = CivilCalendar.date(fromDays: day)
        let minuteOfDay = Int(second / 60)
        return month.contains(date.month) && dayMatches(day: date.day, weekday: CivilCalendar.weekday(ofDays: day))
            && hour.contains(minuteOfDay / 60) && minute.contains(minuteOfDay % 60)
    }

    /// The first whole minute strictly after `instant` at which the schedule fires.
    ///
    /// Walks month by month and day by day, never minute by minute; a valid schedule fires within 8 years
    /// (February 29 across a skipped century leap year), so the search is bounded and throws past year 9999.
    public func next(after instant: UTCInstant) throws -> UTCInstant {
        let start = instant.secondsSinceEpoch.floorDivided(by: 60) * 60 + 60
        var day = start.floorDivided(by: 86400)
        var fromMinute = Int((start - day * 86400) / 60)
        let lastDay = CivilCalendar.days(year: 9999, month: 12, day: 31)
        while day <= lastDay {
            let date = CivilCalendar.date(fromDays: day)
            if !month.contains(date.month) {
                let (y, m) = date.month == 12 ? (date.year + 1, 1) : (date.year, date.month + 1)
                day = CivilCalendar.days(year: y, month: m, day: 1)
                fromMinute = 0
                continue
            }
            if dayMatches(day: date.day, weekday: CivilCalendar.weekday(ofDays: day)), let m = firstMinute(from: fromMinute) {
                return UTCInstant(secondsSinceEpoch: day * 86400 + Int64(m) * 60)
            }
            day += 1
            fromMinute = 0
        }
        throw DiskImportError.usage("schedule \"\(expression)\" does not fire again before the year 10000")
    }

    /// The first minute of the day at or after `minuteOfDay` whose hour and minute both match.
    private func firstMinute(from minuteOfDay: Int) -> Int? {
        var h = minuteOfDay / 60
        var fromMinuteOfHour = minuteOfDay % 60
        while h < 24 {
            if hour.contains(h) {
                let candidates = minute.bits >> UInt64(fromMinuteOfHour)
                if candidates != 0 { return h * 60 + fromMinuteOfHour + candidates.trailingZeroBitCount }
            }
            h += 1
            fromMinuteOfHour = 0
        }
        return nil
    }
}
