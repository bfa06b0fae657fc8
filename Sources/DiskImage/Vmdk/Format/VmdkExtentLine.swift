import DiskImportCore

/// One extent line of a descriptor: `RW 4192256 SPARSE "disk-s001.vmdk"`, `RW 2048 FLAT "disk-flat.vmdk" 0`.
struct VmdkExtentLine: Equatable, Sendable {
    enum Kind: String, Sendable {
        case flat = "FLAT", vmfs = "VMFS", sparse = "SPARSE", vmfsSparse = "VMFSSPARSE", seSparse = "SESPARSE"
        var isFlat: Bool { self == .flat || self == .vmfs }
    }

    var sectors: UInt64
    var kind: Kind
    var fileName: String
    /// Where a flat extent's data starts in its file, in sectors.
    var flatOffset: UInt64

    /// The extent lines of `descriptor`, read as qemu's vmdk_parse_extents reads them: each line through
    /// `sscanf("%10s %lld %10s \"%511[^\n\r\"]\" %lld")`; lines that are not `RW` or name another type are skipped,
    /// a FLAT line needs its offset, other types must not have one.
    static func parse(_ descriptor: VmdkDescriptor, name: String) throws -> [VmdkExtentLine] {
        let text = descriptor.text
        var lines: [VmdkExtentLine] = []
        var p = 0
        while p < text.count {
            let next = text[p...].firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? text.count
            defer { p = next }
            let scan = ExtentScan(text, from: p)
            guard scan.matches >= 4, scan.access == "RW", let type = scan.type else { continue }
            var offset = scan.flatOffset ?? -1
            switch type {
            case "FLAT": if scan.matches != 5 || offset < 0 { throw invalid(text, p, next, name) }
            case "VMFS":
                if scan.matches == 4 { offset = 0 } else { throw invalid(text, p, next, name) }
            default:
                // Sparse extents have no offset in the file (qemu passes 0 on for them).
                if scan.matches == 4 { offset = 0 } else { throw invalid(text, p, next, name) }
            }
            guard let sectors = scan.sectors, sectors > 0, let kind = Kind(rawValue: type), let fileName = scan.fileName else { continue }
            guard UInt64(sectors) <= UInt64(Int64.max) / 512, UInt64(offset) <= UInt64(Int64.max) / 512 else {
                throw DiskImportError.corrupt("\(name): vmdk: extent line sizes out of range: \(line(text, p, next))")
            }
            lines.append(VmdkExtentLine(sectors: UInt64(sectors), kind: kind, fileName: fileName, flatOffset: UInt64(offset)))
        }
        return lines
    }

    private static func line(_ text: [UInt8], _ start: Int, _ end: Int) -> String {
        var stop = end
        if stop > start && text[stop - 1] == UInt8(ascii: "\n") { stop -= 1 }
        return String(decoding: text[start..<stop], as: UTF8.self)
    }

    private static func invalid(_ text: [UInt8], _ start: Int, _ end: Int, _ name: String) -> DiskImportError {
        .corrupt("\(name): vmdk: invalid extent line: \(line(text, start, end))")
    }
}

/// glibc sscanf's reading of an extent line, conversion by conversion: `matches` counts the conversions that
/// succeeded before the first that failed, as sscanf's return value does.
private struct ExtentScan {
    var matches = 0
    var access: String?
    var sectors: Int64?
    var type: String?
    var fileName: String?
    var flatOffset: Int64?

    init(_ text: [UInt8], from start: Int) {
        var p = start
        func skipSpace() { while p < text.count && VmdkDescriptor.isSpace(text[p]) { p += 1 } }
        func word(max: Int) -> String? {
            skipSpace()
            let begin = p
            while p < text.count && p - begin < max && !VmdkDescriptor.isSpace(text[p]) { p += 1 }
            return p > begin ? String(decoding: text[begin..<p], as: UTF8.self) : nil
        }
        func number() -> Int64? {
            skipSpace()
            var q = p
            var negative = false
            if q < text.count && (text[q] == UInt8(ascii: "+") || text[q] == UInt8(ascii: "-")) {
                negative = text[q] == UInt8(ascii: "-")
                q += 1
            }
            let digitsStart = q
            var value: Int64 = 0
            while q < text.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[q]) {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int64(text[q] - UInt8(ascii: "0")))
                value = o1 || o2 ? .max : s
                q += 1
            }
            guard q > digitsStart else { return nil }
            p = q
            return negative ? (value == .max ? .min : -value) : value
        }
        func literal(_ c: Character) -> Bool {
            guard p < text.count, text[p] == c.asciiValue! else { return false }
            p += 1
            return true
        }
        guard let access = word(max: 10) else { return }
        self.access = access; matches = 1
        guard let sectors = number() else { return }
        self.sectors = sectors; matches = 2
        guard let type = word(max: 10) else { return }
        self.type = type; matches = 3
        skipSpace()
        guard literal("\"") else { return }
        let begin = p
        while p < text.count && p - begin < 511 && ![UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\"")].contains(text[p]) { p += 1 }
        guard p > begin else { return }
        fileName = String(decoding: text[begin..<p], as: UTF8.self); matches = 4
        guard literal("\"") else { return }
        guard let offset = number() else { return }
        flatOffset = offset; matches = 5
    }
}
