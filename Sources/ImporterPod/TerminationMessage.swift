import DiskImportCore
import SystemPackage

/// What the importer pod leaves in its termination log for CDI's controller: CDI's `common.TerminationMessage`
/// marshalled as Go's encoding/json does it (fields in struct order, nil fields omitted, map keys sorted, `<`, `>`,
/// `&`, U+2028 and U+2029 escaped), or, for errors, one line of plain text.
public struct TerminationMessage: Sendable, Equatable {
    public var scratchSpaceRequired: Bool?
    public var preallocationApplied: Bool?
    public var deadlinePassed: Bool?
    public var labels: [String: String] = [:]
    public var message: String?

    /// The kubelet keeps at most this many bytes of a termination message.
    public static let maximumLength = 4096

    public init(scratchSpaceRequired: Bool? = nil, preallocationApplied: Bool? = nil, deadlinePassed: Bool? = nil,
                labels: [String: String] = [:], message: String? = nil) {
        self.scratchSpaceRequired = scratchSpaceRequired
        self.preallocationApplied = preallocationApplied
        self.deadlinePassed = deadlinePassed
        self.labels = labels
        self.message = message
    }

    /// CDI's message after an import: `{"scratchSpaceRequired":…,"preallocationApplied":…,"message":"Import Complete"}`.
    public static func importComplete(scratchSpaceRequired: Bool, preallocationApplied: Bool) -> TerminationMessage {
        TerminationMessage(scratchSpaceRequired: scratchSpaceRequired, preallocationApplied: preallocationApplied,
                           message: "Import Complete")
    }

    /// CDI's message after a blank disk: `{"preallocationApplied":…,"message":"Import Complete"}`.
    public static func blankComplete(preallocationApplied: Bool) -> TerminationMessage {
        TerminationMessage(preallocationApplied: preallocationApplied, message: "Import Complete")
    }

    /// The JSON text; throws CDI's error when it exceeds 4096 bytes.
    public func rendered() throws -> String {
        var out = "{"
        func field(_ name: String, _ body: () -> Void) {
            if out.count > 1 { out += "," }
            out += "\"\(name)\":"
            body()
        }
        if let v = scratchSpaceRequired { field("scratchSpaceRequired") { out += v ? "true" : "false" } }
        if let v = preallocationApplied { field("preallocationApplied") { out += v ? "true" : "false" } }
        if let v = deadlinePassed { field("deadlinePassed") { out += v ? "true" : "false" } }
        if !labels.isEmpty {
            field("labels") {
                out += "{"
                // Go sorts map keys by their bytes.
                for (i, key) in labels.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }).enumerated() {
                    if i > 0 { out += "," }
                    GoJSON.quote(key, into: &out)
                    out += ":"
                    GoJSON.quote(labels[key] ?? "", into: &out)
                }
                out += "}"
            }
        }
        if let v = message { field("message") { GoJSON.quote(v, into: &out) } }
        out += "}"
        let length = out.utf8.count
        if length > Self.maximumLength {
            throw DiskImportError.usage("Termination message length \(length) exceeds maximum length of \(Self.maximumLength) bytes")
        }
        return out
    }

    /// An error as CDI reports it: one line of text, cut to 4096 bytes on a character boundary.
    public static func errorText(_ text: String) -> String {
        let oneLine = String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        guard oneLine.utf8.count > maximumLength else { return oneLine }
        var cut = ""
        for character in oneLine {
            if cut.utf8.count + String(character).utf8.count > maximumLength { break }
            cut.append(character)
        }
        return cut
    }

    /// Writes `text` to the termination log (created or truncated, mode 0644 as the kubelet expects a readable file).
    public static func write(_ text: String, to path: String) throws {
        do {
            let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate, .closeOnExec],
                                             permissions: [.ownerReadWrite, .groupRead, .otherRead])
            defer { try? fd.close() }
            var bytes = Array(text.utf8)
            try bytes.withUnsafeMutableBytes { _ = try fd.writeAll(UnsafeRawBufferPointer($0)) }
        } catch let errno as Errno {
            throw DiskImportError.io("write termination message to", path, errno)
        }
    }
}

/// String quoting exactly as Go's encoding/json Marshal does it (with its default HTML escaping).
enum GoJSON {
    private static let hex = Array("0123456789abcdef".utf8)

    static func quote(_ s: String, into out: inout String) {
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        func escape(_ value: UInt32) {
            bytes += Array("\\u".utf8)
            for shift in stride(from: 12, through: 0, by: -4) { bytes.append(hex[Int((value >> UInt32(shift)) & 0xf)]) }
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": bytes += Array("\\\"".utf8)
            case "\\": bytes += Array("\\\\".utf8)
            case "\n": bytes += Array("\\n".utf8)
            case "\r": bytes += Array("\\r".utf8)
            case "\t": bytes += Array("\\t".utf8)
            case "\u{08}": bytes += Array("\\b".utf8)
            case "\u{0C}": bytes += Array("\\f".utf8)
            case "<", ">", "&", "\u{2028}", "\u{2029}": escape(scalar.value)
            case let c where c.value < 0x20: escape(c.value)
            default: bytes += Array(String(scalar).utf8)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        out += String(decoding: bytes, as: UTF8.self)
    }
}
