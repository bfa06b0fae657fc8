import DiskImportCore
import Foundation
import Testing

@testable import CronController

private func t(_ text: String) -> UTCInstant {
    // Test literals are valid RFC 3339 by construction.
    (try? UTCInstant(rfc3339: text)) ?? UTCInstant(secondsSinceEpoch: Int64.min)
}

@Suite struct CronScheduleTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var schedule: String
        var after: String
        var next: String
        var testDescription: String { "\(schedule) after \(after)" }
    }

    @Test(arguments: [
        // The forms CDI's templates use.
        Case(schedule: "55 8/12 * * *", after: "2026-11-23T08:55:00Z", next: "2026-11-23T20:55:00Z"),
        Case(schedule: "55 8/12 * * *", after: "2026-11-23T20:55:00Z", next: "2026-11-24T08:55:00Z"),
        Case(schedule: "55 8/12 * * *", after: "2026-11-23T08:54:59Z", next: "2026-11-23T08:55:00Z"),
        Case(schedule: "0 */12 * * *", after: "2026-12-31T12:00:00Z", next: "2027-01-01T00:00:00Z"),
        Case(schedule: "0 */12 * * *", after: "2026-12-31T11:59:59Z", next: "2026-12-31T12:00:00Z"),
        // Minute, hour, day, month and year boundaries.
        Case(schedule: "* * * * *", after: "2026-01-01T00:00:00Z", next: "2026-01-01T00:01:00Z"),
        Case(schedule: "* * * * *", after: "2026-01-01T00:00:30Z", next: "2026-01-01T00:01:00Z"),
        Case(schedule: "*/15 * * * *", after: "2026-01-01T00:59:30Z", next: "2026-01-01T01:00:00Z"),
        Case(schedule: "59 23 * * *", after: "2026-02-28T23:59:00Z", next: "2026-03-01T23:59:00Z"),
        Case(schedule: "59 23 31 12 *", after: "2026-12-31T23:59:00Z", next: "2027-12-31T23:59:00Z"),
        Case(schedule: "0 0 31 * *", after: "2026-04-01T00:00:00Z", next: "2026-05-31T00:00:00Z"),
        Case(schedule: "0 0 31 * *", after: "2026-12-31T00:00:00Z", next: "2027-01-31T00:00:00Z"),
        Case(schedule: "0 0 1 1 *", after: "2026-06-01T00:00:00Z", next: "2027-01-01T00:00:00Z"),
        Case(schedule: "30 2 1 * *", after: "2026-12-15T00:00:00Z", next: "2027-01-01T02:30:00Z"),
        // Leap years: 2028 is one, 2100 is not, 2000 was.
        Case(schedule: "0 0 29 2 *", after: "2026-03-01T00:00:00Z", next: "2028-02-29T00:00:00Z"),
        Case(schedule: "0 0 29 2 *", after: "2096-02-29T00:00:00Z", next: "2104-02-29T00:00:00Z"),
        Case(schedule: "0 0 29 2 *", after: "1999-03-01T00:00:00Z", next: "2000-02-29T00:00:00Z"),
        Case(schedule: "0 12 28-31 2 *", after: "2100-02-28T12:00:00Z", next: "2101-02-28T12:00:00Z"),
        // Names, case-insensitive; 7 is Sunday; ranges of names.
        Case(schedule: "0 12 * * 7", after: "2026-01-01T00:00:00Z", next: "2026-01-04T12:00:00Z"),
        Case(schedule: "0 12 * * sun", after: "2026-01-01T00:00:00Z", next: "2026-01-04T12:00:00Z"),
        Case(schedule: "0 12 * * 5-7", after: "2026-01-03T12:00:00Z", next: "2026-01-04T12:00:00Z"),
        Case(schedule: "0 12 * * Mon-Fri", after: "2026-01-02T12:00:00Z", next: "2026-01-05T12:00:00Z"),
        Case(schedule: "0 0 1 jun,DEC *", after: "2026-06-01T00:00:00Z", next: "2026-12-01T00:00:00Z"),
        Case(schedule: "0 0 1 Feb-Apr/2 *", after: "2026-02-01T00:00:00Z", next: "2026-04-01T00:00:00Z"),
        // Day of month and day of week: ANDed when either is a star, ORed when both are restricted.
        Case(schedule: "0 0 * * MON", after: "2026-01-01T00:00:00Z", next: "2026-01-05T00:00:00Z"),
        Case(schedule: "0 0 13 * *", after: "2026-01-01T00:00:00Z", next: "2026-01-13T00:00:00Z"),
        Case(schedule: "0 0 13 * FRI", after: "2026-01-01T00:00:00Z", next: "2026-01-02T00:00:00Z"),
        Case(schedule: "0 0 13 * FRI", after: "2026-01-09T00:00:00Z", next: "2026-01-13T00:00:00Z"),
        Case(schedule: "0 0 1-31 * MON", after: "2026-01-01T00:00:00Z", next: "2026-01-02T00:00:00Z"),
        Case(schedule: "0 0 */2 * MON", after: "2026-01-03T00:00:00Z", next: "2026-01-05T00:00:00Z"),
        Case(schedule: "0 0 ? * MON", after: "2026-01-01T00:00:00Z", next: "2026-01-05T00:00:00Z"),
        Case(schedule: "0 0 */1 * MON", after: "2026-01-01T00:00:00Z", next: "2026-01-05T00:00:00Z"),
        Case(schedule: "0 0 29 2 MON", after: "2026-01-27T00:00:00Z", next: "2026-02-02T00:00:00Z"),
        // Lists, steps on ranges, and N/step meaning N-max/step.
        Case(schedule: "5,10-20/5,58 * * * *", after: "2026-01-01T00:05:00Z", next: "2026-01-01T00:10:00Z"),
        Case(schedule: "5,10-20/5,58 * * * *", after: "2026-01-01T00:20:00Z", next: "2026-01-01T00:58:00Z"),
        Case(schedule: "5,10-20/5,58 * * * *", after: "2026-01-01T00:58:00Z", next: "2026-01-01T01:05:00Z"),
        Case(schedule: "50/7 * * * *", after: "2026-01-01T00:57:00Z", next: "2026-01-01T01:50:00Z"),
        Case(schedule: "0 22/3 * * *", after: "2026-01-01T22:00:00Z", next: "2026-01-02T22:00:00Z"),
        // Descriptors.
        Case(schedule: "@daily", after: "2026-01-01T00:00:00Z", next: "2026-01-02T00:00:00Z"),
        Case(schedule: "@hourly", after: "2026-01-01T00:00:00Z", next: "2026-01-01T01:00:00Z"),
        Case(schedule: "@weekly", after: "2026-01-01T00:00:00Z", next: "2026-01-04T00:00:00Z"),
        Case(schedule: "@monthly", after: "2026-01-31T00:00:00Z", next: "2026-02-01T00:00:00Z"),
        Case(schedule: "@yearly", after: "2026-01-01T00:00:00Z", next: "2027-01-01T00:00:00Z"),
        // Before the epoch.
        Case(schedule: "0 0 * * *", after: "1969-12-31T23:59:59Z", next: "1970-01-01T00:00:00Z"),
    ])
    func nextFiringTime(_ c: Case) throws {
        let schedule = try CronSchedule(parsing: c.schedule)
        let next = try schedule.next(after: t(c.after))
        #expect(next.description == c.next)
        #expect(schedule.matches(next))
    }

    @Test(arguments: [
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
        ("0 0 31 2,4 *", "never fires"),
        ("60 * * * *", "above maximum"),
        ("* 24 * * *", "above maximum"),
        ("* * 0 * *", "below minimum"),
        ("* * * 13 *", "above maximum"),
        ("* * * * 8", "above maximum"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * *", "expected 5 fields"),
        ("*/0 * * * *", "positive"),
        ("5-1 * * * *", "beyond end of range"),
        ("1-2-3 * * * *", "too many hyphens"),
        ("1/2/3 * * * *", "too many slashes"),
        ("x * * * *", "not a number"),
        ("* * * foo *", "not a number or a name"),
        ("1,,2 * * * *", "empty list element"),
        ("*-5 * * * *", "star cannot start a range"),
        ("-1 * * * *", "not a number"),
        ("@every 1h", "@every"),
        ("@sometimes", "unknown descriptor"),
        ("TZ=UTC 0 0 * * *", "time zones"),
    ])
    func invalidSchedulesAreClearErrors(_ text: String, _ expected: String) {
        #expect {
            _ = try CronSchedule(parsing: text)
        } throws: { error in
            let message = (error as? DiskImportError)?.message ?? ""
            return message.contains(expected) && message.contains("schedule \"")
        }
    }

    @Test func sevenAndZeroAreBothSunday() throws {
        let a = try CronSchedule(parsing: "0 0 * * 7"), b = try CronSchedule(parsing: "0 0 * * 0")
        #expect(a.dayOfWeek.bits == b.dayOfWeek.bits)
        // A step over the whole week stays within 0-6, as in robfig.
        #expect(try CronSchedule(parsing: "0 0 * * 1/2").dayOfWeek.bits == 0b0101010)
    }

    @Test func starBitFollowsRobfig() throws {
        #expect(try CronSchedule(parsing: "0 0 * * *").dayOfMonth.isStar)
        #expect(try CronSchedule(parsing: "0 0 */1 * *").dayOfMonth.isStar)
        #expect(try !CronSchedule(parsing: "0 0 */2 * *").dayOfMonth.isStar)
        #expect(try !CronSchedule(parsing: "0 0 1-31 * *").dayOfMonth.isStar)
        #expect(try CronSchedule(parsing: "0 0 *,5 * *").dayOfMonth.isStar)
    }

    /// Every result of a chain of `next` calls matches according to an independent matcher built on Foundation's
    /// Gregorian calendar, and, for dense schedules, no minute in between matches.
    @Test(arguments: [
        "*/7 */5 * * *", "55 8/12 * * *", "0 0 13 * FRI", "15 3 * * SAT,SUN", "0 */6 1,15 * *",
        "0 0 29 2 *", "0 12 * JAN,JUL MON-WED", "1-59/13 22 28-31 * *",
    ])
    func chainAgreesWithFoundationCalendar(_ expression: String) throws {
        let schedule = try CronSchedule(parsing: expression)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let fields = expression.split(separator: " ").map(String.init)
        let sets = try [CronField.minute, CronField.hour, CronField.dayOfMonth, CronField.month, CronField.dayOfWeek].enumerated().map { i, bounds in
            try CronField(parsing: fields[i], bounds)
        }
        func oracle(_ seconds: Int64) -> Bool {
            let c = calendar.dateComponents([.minute, .hour, .day, .month, .weekday],
                                            from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            guard let mi = c.minute, let h = c.hour, let d = c.day, let mo = c.month, let wd = c.weekday else { return false }
            let dom = sets[2].contains(d), dow = sets[4].contains(wd - 1)
            let days = sets[2].isStar || sets[4].isStar ? dom && dow : dom || dow
            return sets[0].contains(mi) && sets[1].contains(h) && sets[3].contains(mo) && days
        }
        var at = t("2023-12-30T17:41:13Z")
        for _ in 0..<40 {
            let next = try schedule.next(after: at)
            #expect(next > at)
            #expect(oracle(next.secondsSinceEpoch), "\(expression): \(next) does not match")
            let gap = next.secondsSinceEpoch - at.secondsSinceEpoch
            if gap <= 3 * 86400 {
                var minute = (at.secondsSinceEpoch / 60 + 1) * 60
                while minute < next.secondsSinceEpoch {
                    #expect(!oracle(minute), "\(expression): skipped \(UTCInstant(secondsSinceEpoch: minute))")
                    minute += 60
                }
            }
            at = next
        }
    }
}

@Suite struct UTCInstantTests {
    @Test func civilConversionAgreesWithFoundationAcrossCenturies() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        // Every 7th day from 1890 to 2110 covers 1900 (not leap), 2000 (leap) and 2100 (not leap).
        var day = CivilCalendar.days(year: 1890, month: 1, day: 1)
        let end = CivilCalendar.days(year: 2110, month: 12, day: 31)
        while day <= end {
            let mine = CivilCalendar.date(fromDays: day)
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: Date(timeIntervalSince1970: TimeInterval(day * 86400)))
            #expect(mine.year == c.year && mine.month == c.month && mine.day == c.day)
            #expect(CivilCalendar.weekday(ofDays: day) == (c.weekday ?? 0) - 1)
            #expect(CivilCalendar.days(year: mine.year, month: mine.month, day: mine.day) == day)
            day += 7
        }
    }

    @Test func leapYears() {
        #expect(CivilCalendar.isLeap(2000) && CivilCalendar.isLeap(2028) && CivilCalendar.isLeap(2400))
        #expect(!CivilCalendar.isLeap(1900) && !CivilCalendar.isLeap(2100) && !CivilCalendar.isLeap(2026))
        #expect(UTCInstant(year: 2100, month: 2, day: 29) == nil)
        #expect(UTCInstant(year: 2000, month: 2, day: 29) != nil)
    }

    @Test(arguments: [
        ("2026-11-23T08:55:00Z", "2026-11-23T08:55:00Z"),
        ("2026-11-23t08:55:00z", "2026-11-23T08:55:00Z"),
        ("2026-11-23T08:55:00.123456Z", "2026-11-23T08:55:00Z"),
        ("2026-11-23T10:55:00+02:00", "2026-11-23T08:55:00Z"),
        ("2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00Z"),
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
    ])
    func rfc3339RoundTrip(_ input: String, _ output: String) throws {
        #expect(try UTCInstant(rfc3339: input).description == output)
    }

    @Test(arguments: ["", "2026-11-23", "2026-11-23T08:55:00", "2026-02-30T00:00:00Z", "2026-11-23T24:00:00Z",
                      "2026-11-23T08:55:00Zjunk", "2026-11-23T08:55:00+2:00", "20261123T085500Z", "2026-11-23T08:55:00."])
    func invalidTimesAreRejected(_ input: String) {
        #expect(throws: DiskImportError.self) { try UTCInstant(rfc3339: input) }
    }
}
