/// Go's `strconv.ParseFloat(s, 64)`: the parser CDI reads every filesystem overhead with (cmd/cdi-importer,
/// cmd/cdi-uploadserver and the controller's InflateSizeWithOverhead all call `strconv.ParseFloat(text, 64)`), so
/// a text means here exactly the float64 it means to CDI.
///
/// The syntax is Go's (strconv/atof.go `readFloat`, `special` and `underscoreOK`): an optional sign; decimal digits
/// with an optional point and `e` exponent, or `0x` hex digits with an optional point and a mandatory `p` exponent;
/// `_` only between digits (or after the base prefix); `inf`, `infinity` (signed or not) and `nan`, any case.
/// No surrounding spaces. The value is then the correctly rounded nearest float64, as Go returns it; strtod(3) of
/// the same digits without underscores rounds the same way.
public enum GoParseFloat {
    /// The float64 Go parses `text` to, or nil where Go reports a syntax error. Out-of-range text gives ±infinity
    /// (Go's value beside ErrRange).
    public static func parse(_ text: String) -> Double? {
        let s = Array(text.utf8)
        if let special = special(s) { return special }
        guard isWellFormed(s) else { return nil }
        let digits = String(decoding: s.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        return Double(digits)
    }

    /// strconv's `special`: infinities with an optional sign, NaN without one, case-insensitively.
    private static func special(_ s: [UInt8]) -> Double? {
        var body = s[...]
        var sign = 1.0
        if let first = body.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            if first == UInt8(ascii: "-") { sign = -1 }
            body = body.dropFirst()
        }
        let word = String(decoding: body, as: UTF8.self).lowercased()
        if word == "inf" || word == "infinity" { return sign * .infinity }
        if word == "nan" && body.count == s.count { return .nan }
        return nil
    }

    /// strconv's `readFloat` consuming the whole text, then `underscoreOK` when it holds an underscore.
    private static func isWellFormed(_ s: [UInt8]) -> Bool {
        var i = 0
        if i < s.count, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") { i += 1 }
        var hex = false
        if i + 2 < s.count, s[i] == UInt8(ascii: "0"), lower(s[i + 1]) == UInt8(ascii: "x") {
            hex = true
            i += 2
        }
        var sawDot = false, sawDigits = false
        while i < s.count {
            let c = s[i]
            if c == UInt8(ascii: "_") {
            } else if c == UInt8(ascii: ".") {
                if sawDot { break }
                sawDot = true
            } else if isDigit(c) || hex && isHexLetter(c) {
                sawDigits = true
            } else {
                break
            }
            i += 1
        }
        guard sawDigits else { return false }
        if i < s.count, lower(s[i]) == UInt8(ascii: hex ? "p" : "e") {
            i += 1
            if i < s.count, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") { i += 1 }
            guard i < s.count, isDigit(s[i]) else { return false }
            while i < s.count, isDigit(s[i]) || s[i] == UInt8(ascii: "_") { i += 1 }
        } else if hex {
            return false
        }
        guard i == s.count else { return false }
        return !s.contains(UInt8(ascii: "_")) || underscoresAreSeparators(s)
    }

    /// strconv's `underscoreOK`: each `_` follows a digit (or the base prefix) and precedes a digit.
    private static func underscoresAreSeparators(_ s: [UInt8]) -> Bool {
        var body = s[...]
        if let first = body.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") { body = body.dropFirst() }
        enum Saw { case start, digit, underscore, other }
        var saw = Saw.start
        var hex = false
        if body.count >= 2, body.first == UInt8(ascii: "0"),
           [UInt8(ascii: "b"), UInt8(ascii: "o"), UInt8(ascii: "x")].contains(lower(body[body.startIndex + 1])) {
            hex = lower(body[body.startIndex + 1]) == UInt8(ascii: "x")
            body = body.dropFirst(2)
            saw = .digit
        }
        for c in body {
            if isDigit(c) || hex && isHexLetter(c) {
                saw = .digit
            } else if c == UInt8(ascii: "_") {
                guard saw == .digit else { return false }
                saw = .underscore
            } else {
                if saw == .underscore { return false }
                saw = .other
            }
        }
        return saw != .underscore
    }

    private static func lower(_ c: UInt8) -> UInt8 { c | 0x20 }
    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    private static func isHexLetter(_ c: UInt8) -> Bool { lower(c) >= UInt8(ascii: "a") && lower(c) <= UInt8(ascii: "f") }
}
