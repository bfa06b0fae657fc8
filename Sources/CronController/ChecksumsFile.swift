import DiskImportCore
import Fetch
import Foundation

/// A checksums file as image mirrors publish them next to the images, and the line for one file:
///
///     0f3b…e1  Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2      GNU coreutils (sha256sum), Debian's SHA512SUMS
///     0f3b…e1 *noble-server-cloudimg-amd64.img                    the same in binary mode (Ubuntu's SHA256SUMS)
///     SHA256 (Fedora-Cloud-Base-Generic-42-1.1.x86_64.qcow2) = 0f3b…e1   BSD tag format (Fedora's CHECKSUM)
///
/// The algorithm is the tag's in the BSD format, else told by the digest's length (32 md5, 40 sha1, 64 sha256,
/// 128 sha512). Other lines (comments, a clearsigned file's PGP armour) are skipped; the signature is not verified.
enum ChecksumsFile {
    /// The checksum listed for `fileName` in `text`; throws when the file is not listed, or is listed twice with
    /// different digests.
    static func checksum(for fileName: String, in text: String, source: String) throws -> Checksum {
        var found: [Checksum] = []
        for line in text.split(whereSeparator: \.isNewline) {
            if let (name, checksum) = parse(Substring(line)), name == fileName, !found.contains(checksum) {
                found.append(checksum)
            }
        }
        guard let first = found.first else {
            throw DiskImportError.corrupt("checksums file \(source) has no line for \(fileName)")
        }
        guard found.count == 1 else {
            throw DiskImportError.corrupt("checksums file \(source) lists \(fileName) with \(found.count) different checksums")
        }
        return first
    }

    /// One line as (file name, checksum), or nil when it is not a checksum line.
    static func parse(_ line: Substring) -> (String, Checksum)? {
        let line = line.hasSuffix("\r") ? line.dropLast() : line
        if let tagged = parseTagged(line) { return tagged }
        // GNU: HEX, a space, then ' ' (text) or '*' (binary), then the name. A leading '\' means the name is
        // escaped (\\ and \n).
        var rest = line
        let escaped = rest.first == "\\"
        if escaped { rest = rest.dropFirst() }
        guard let space = rest.firstIndex(of: " ") else { return nil }
        let hex = rest[..<space]
        let afterSpace = rest[rest.index(after: space)...]
        guard let mode = afterSpace.first, mode == " " || mode == "*" else { return nil }
        var name = String(afterSpace.dropFirst())
        if escaped { name = unescape(name) }
        guard !name.isEmpty, let algorithm = algorithm(forHexLength: hex.count),
              let checksum = try? Checksum(parsing: "\(algorithm.rawValue):\(hex)") else { return nil }
        return (name, checksum)
    }

    /// BSD: `ALGORITHM (NAME) = HEX`.
    private static func parseTagged(_ line: Substring) -> (String, Checksum)? {
        guard let open = line.firstIndex(of: "("), let equals = line.range(of: ") = ", options: .backwards),
              open < equals.lowerBound else { return nil }
        let tag = line[..<open].trimmingCharacters(in: " ").lowercased().filter { $0 != "-" }
        let name = String(line[line.index(after: open)..<equals.lowerBound])
        let hex = line[equals.upperBound...]
        guard DigestAlgorithm(rawValue: tag) != nil, !name.isEmpty,
              let checksum = try? Checksum(parsing: "\(tag):\(hex)") else { return nil }
        return (name, checksum)
    }

    private static func algorithm(forHexLength length: Int) -> DigestAlgorithm? {
        DigestAlgorithm.allCases.first { $0.size * 2 == length }
    }

    private static func unescape(_ name: String) -> String {
        var result = ""
        var iterator = name.makeIterator()
        while let c = iterator.next() {
            guard c == "\\" else { result.append(c); continue }
            switch iterator.next() {
            case "n": result.append("\n")
            case "\\": result.append("\\")
            case let other?: result.append("\\"); result.append(other)
            case nil: result.append("\\")
            }
        }
        return result
    }
}

private extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
