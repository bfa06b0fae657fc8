/// A path from an archive header, split into components and judged, never used as given.
///
/// "./disk//x.img" and "disk/x.img" are the same components; whether a path is absolute or climbs out with ".." is
/// recorded so callers can refuse it.
struct ArchivePath {
    /// The names between slashes, without empty and "." components.
    let components: [[UInt8]]
    let isAbsolute: Bool
    let climbsOut: Bool

    init(_ bytes: [UInt8]) {
        isAbsolute = bytes.first == UInt8(ascii: "/")
        var components: [[UInt8]] = []
        var climbsOut = false
        for part in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual([UInt8(ascii: ".")]) { continue }
            if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) { climbsOut = true }
            components.append(Array(part))
        }
        self.components = components
        self.climbsOut = climbsOut
    }

    /// OCI whiteouts (".wh.name", ".wh..wh..opq") mark deletions in a layer; they carry no data.
    var isWhiteout: Bool { components.last?.starts(with: Array(".wh.".utf8)) ?? false }

    /// Archive bytes made safe for a one-line message: control and non-ASCII bytes as "?", at most 200 characters.
    static func display(_ bytes: [UInt8]) -> String {
        let printable = bytes.prefix(200).map { $0 >= 0x20 && $0 < 0x7f ? Character(UnicodeScalar($0)) : "?" }
        return String(printable) + (bytes.count > 200 ? "…" : "")
    }
}
