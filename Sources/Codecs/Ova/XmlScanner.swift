import DiskImportCore

/// The few parts of XML an OVF descriptor needs read: start and end tags with their attributes, in order. Text,
/// comments, processing instructions and CDATA are skipped. A DOCTYPE (or any other `<!` declaration) is refused: an
/// OVF has no use for one, and without one there are no entities to expand, so no input expands (the billion laughs)
/// and nothing outside the bytes is read. The scan is one pass over bytes already bounded by the caller, nesting is
/// bounded, and any malformed tag is one error naming its offset.
struct XmlScanner {
    /// A tag: its local name (the part after any namespace prefix) and its attributes by local name.
    struct Tag {
        var name: String
        var attributes: [String: String]
    }

    static let maximumDepth = 256

    private let bytes: [UInt8]
    private var position = 0
    /// The open elements' local names, outermost first.
    private(set) var path: [String] = []

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Calls `start` with each start tag (the open elements above it in `path`), until the end of the document.
    static func scan(_ bytes: [UInt8], start: (Tag, [String]) throws -> Void) throws {
        if bytes.starts(with: [0xfe, 0xff]) || bytes.starts(with: [0xff, 0xfe]) {
            throw XmlError.malformed("it is UTF-16, and only UTF-8 descriptors are read", at: 0)
        }
        var scanner = XmlScanner(bytes)
        while let tag = try scanner.nextStartTag() { try start(tag, scanner.path.dropLast()) }
        guard scanner.path.isEmpty else { throw XmlError.malformed("<\(scanner.path.last!)> is never closed", at: bytes.count) }
    }

    /// The next start tag (pushed on `path`, popped at once when self-closing, after the caller has seen it via
    /// `path`), skipping everything else; nil at the end.
    private mutating func nextStartTag() throws -> Tag? {
        if closesOnNextCall {
            path.removeLast()
            closesOnNextCall = false
        }
        while let open = bytes[position...].firstIndex(of: UInt8(ascii: "<")) {
            position = open
            if try skip(if: "<!--", until: "-->") || skip(if: "<![CDATA[", until: "]]>") || skip(if: "<?", until: "?>") {
                continue
            }
            if starts(with: "<!") { throw XmlError.malformed("a DOCTYPE or declaration, which an OVF descriptor has no use for", at: open) }
            if starts(with: "</") {
                position += 2
                let name = try readName()
                skipSpace()
                guard byte == UInt8(ascii: ">") else { throw XmlError.malformed("an end tag is not closed", at: position) }
                position += 1
                guard path.last == name else {
                    throw XmlError.malformed("</\(name)> closes <\(path.last ?? "nothing")>", at: open)
                }
                path.removeLast()
                continue
            }
            position += 1
            return try readStartTag(at: open)
        }
        position = bytes.count
        return nil
    }

    /// The last start tag returned was self-closing: it leaves `path` on the next call.
    private var closesOnNextCall = false

    private mutating func readStartTag(at open: Int) throws -> Tag {
        let name = try readName()
        var attributes: [String: String] = [:]
        while true {
            skipSpace()
            guard let next = byte else { throw XmlError.malformed("<\(name) is not closed", at: open) }
            if next == UInt8(ascii: ">") { position += 1; break }
            if next == UInt8(ascii: "/") {
                position += 1
                guard byte == UInt8(ascii: ">") else { throw XmlError.malformed("<\(name) has a stray /", at: position) }
                position += 1
                closesOnNextCall = true
                break
            }
            let attribute = try readName()
            skipSpace()
            guard byte == UInt8(ascii: "=") else { throw XmlError.malformed("attribute \(attribute) has no value", at: position) }
            position += 1
            skipSpace()
            attributes[attribute] = try readValue()
        }
        guard path.count < Self.maximumDepth else {
            throw XmlError.malformed("elements nest more than \(Self.maximumDepth) deep", at: open)
        }
        path.append(name)
        return Tag(name: name, attributes: attributes)
    }

    /// A name's local part: the bytes up to space, `=`, `/` or `>`, after the last `:`.
    private mutating func readName() throws -> String {
        let start = position
        while let b = byte, !Self.isSpace(b), b != UInt8(ascii: "="), b != UInt8(ascii: "/"), b != UInt8(ascii: ">"),
              b != UInt8(ascii: "<"), b != UInt8(ascii: "\""), b != UInt8(ascii: "'") {
            position += 1
        }
        guard position > start else { throw XmlError.malformed("a tag or attribute has no name", at: start) }
        let name = bytes[start..<position]
        let local = name.lastIndex(of: UInt8(ascii: ":")).map { name[($0 + 1)...] } ?? name
        return String(decoding: local, as: UTF8.self)
    }

    /// A quoted attribute value, its character references decoded.
    private mutating func readValue() throws -> String {
        guard let quote = byte, quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
            throw XmlError.malformed("an attribute value is not quoted", at: position)
        }
        guard let end = bytes[(position + 1)...].firstIndex(of: quote) else {
            throw XmlError.malformed("an attribute value is not closed", at: position)
        }
        let raw = bytes[(position + 1)..<end]
        if raw.contains(UInt8(ascii: "<")) { throw XmlError.malformed("an attribute value holds <", at: position) }
        let start = position
        position = end + 1
        return try Self.decodeReferences(raw, at: start)
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` and numeric references; any other (no DOCTYPE defines one) is an error.
    static func decodeReferences(_ raw: ArraySlice<UInt8>, at offset: Int) throws -> String {
        guard raw.contains(UInt8(ascii: "&")) else { return String(decoding: raw, as: UTF8.self) }
        var out = ""
        var rest = raw[...]
        while let amp = rest.firstIndex(of: UInt8(ascii: "&")) {
            out += String(decoding: rest[..<amp], as: UTF8.self)
            guard let semicolon = rest[amp...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
                throw XmlError.malformed("an & in an attribute value starts no reference", at: offset)
            }
            let name = String(decoding: rest[(amp + 1)..<semicolon], as: UTF8.self)
            let named = ["lt": "<", "gt": ">", "amp": "&", "quot": "\"", "apos": "'"]
            if let character = named[name] {
                out += character
            } else if name.hasPrefix("#"), let code = name.hasPrefix("#x") ? UInt32(name.dropFirst(2), radix: 16) : UInt32(name.dropFirst()),
                      let scalar = Unicode.Scalar(code), code != 0 {
                out.unicodeScalars.append(scalar)
            } else {
                throw XmlError.malformed("the reference &\(name.prefix(10)); is not one XML defines", at: offset)
            }
            rest = rest[(semicolon + 1)...]
        }
        return out + String(decoding: rest, as: UTF8.self)
    }

    private var byte: UInt8? { position < bytes.count ? bytes[position] : nil }

    private func starts(with prefix: String) -> Bool { bytes[position...].starts(with: prefix.utf8) }

    /// Skips a construct that starts with `prefix` through `terminator`; false when it does not start here.
    private mutating func skip(if prefix: String, until terminator: String) throws -> Bool {
        guard starts(with: prefix) else { return false }
        let needle = Array(terminator.utf8)
        var index = position + prefix.utf8.count
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0], bytes[index..<(index + needle.count)].elementsEqual(needle) {
                position = index + needle.count
                return true
            }
            index += 1
        }
        throw XmlError.malformed("\(prefix) is never closed by \(terminator)", at: position)
    }

    private mutating func skipSpace() {
        while let b = byte, Self.isSpace(b) { position += 1 }
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d }
}

enum XmlError {
    static func malformed(_ what: String, at offset: Int) -> DiskImportError {
        DiskImportError.corrupt("the OVF descriptor is not well-formed XML: \(what) (byte \(offset))")
    }
}
