import DiskImportCore

/// A vmdk text descriptor (a descriptor file, or the one embedded in a sparse extent), read the way qemu's
/// block/vmdk.c reads it: C-string searches (`strstr`) and `sscanf` patterns, not a general parser, so that every
/// descriptor qemu accepts means the same thing here. Works on bytes in memory (a fuzzer can call it on any buffer).
struct VmdkDescriptor: Sendable {
    /// The text up to its first NUL, as qemu's string functions see it.
    let text: [UInt8]

    init(_ bytes: some Collection<UInt8>) {
        text = Array(bytes.prefix { $0 != 0 })
    }

    /// Whether `head` (the first 512 bytes qemu probes) is a text descriptor: comment lines and lines of spaces, then
    /// `version=1`, `2` or `3` (qemu's vmdk_probe).
    static func probe(_ head: some Collection<UInt8>) -> Bool {
        let bytes = Array(head.prefix(512))
        var p = 0
        while p < bytes.count {
            if bytes[p] == UInt8(ascii: "#") {
                while p < bytes.count && bytes[p] != UInt8(ascii: "\n") { p += 1 }
                p += 1
                continue
            }
            if bytes[p] == UInt8(ascii: " ") {
                while p < bytes.count && bytes[p] == UInt8(ascii: " ") { p += 1 }
                if p < bytes.count && bytes[p] == UInt8(ascii: "\r") { p += 1 }
                guard p < bytes.count, bytes[p] == UInt8(ascii: "\n") else { return false }
                p += 1
                continue
            }
            for version in ["1", "2", "3"] {
                for ending in ["\n", "\r\n"] where bytes[p...].starts(with: Array("version=\(version)\(ending)".utf8)) { return true }
            }
            return false
        }
        return false
    }

    /// `CID` (or `parentCID`): the hex number after the first occurrence of the name and one more character
    /// (qemu's vmdk_read_cid, which also finds "CID" inside "parentCID" when that comes first).
    func cid(parent: Bool) -> UInt32? {
        let name = Array((parent ? "parentCID" : "CID").utf8)
        guard let at = find(name) else { return nil }
        var p = at + name.count + 1
        while p < text.count && Self.isSpace(text[p]) { p += 1 }
        if p + 1 < text.count, text[p] == UInt8(ascii: "0"), text[p + 1] | 0x20 == UInt8(ascii: "x"),
           p + 2 < text.count, Self.hexValue(text[p + 2]) != nil { p += 2 }
        var value: UInt64 = 0
        var digits = 0
        while p < text.count, let digit = Self.hexValue(text[p]) {
            value = value > UInt64.max >> 4 ? .max : value << 4 | UInt64(digit)
            digits += 1
            p += 1
        }
        return digits == 0 ? nil : UInt32(truncatingIfNeeded: value)
    }

    /// The `createType="…"` value (qemu's vmdk_parse_description: the name, two characters skipped, up to a quote).
    func createType() -> String? { quotedValue("createType", maxLength: 127) }

    /// `parentFileNameHint="…"` (qemu's vmdk_parent_open); nil when absent, an error when it has no closing quote.
    func parentFileNameHint(name: String) throws -> String? {
        let key = Array("parentFileNameHint".utf8)
        guard let at = find(key) else { return nil }
        let start = at + key.count + 2
        guard start <= text.count, let end = text[start...].firstIndex(of: UInt8(ascii: "\"")), end - start < 4096 else {
            throw DiskImportError.corrupt("\(name): vmdk: invalid parentFileNameHint in the descriptor")
        }
        return String(decoding: text[start..<end], as: UTF8.self)
    }

    private func quotedValue(_ key: String, maxLength: Int) -> String? {
        let keyBytes = Array(key.utf8)
        guard let at = find(keyBytes) else { return nil }
        let start = at + keyBytes.count + 2
        guard start < text.count, let end = text[start...].firstIndex(of: UInt8(ascii: "\"")), end - start <= maxLength else { return nil }
        return String(decoding: text[start..<end], as: UTF8.self)
    }

    /// The first index of `needle` in the text (strstr).
    private func find(_ needle: [UInt8]) -> Int? {
        guard !needle.isEmpty, text.count >= needle.count else { return nil }
        var i = 0
        while i + needle.count <= text.count {
            if text[i] == needle[0] && text[i..<i + needle.count].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (0x09...0x0d).contains(c) }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
