import DiskImportCore
import NIOCore

/// Finds the part named `file` of a multipart/form-data body as it streams in, and hands its bytes on as slices of
/// the request's buffers (no copy), as CDI's upload-form endpoints read it (pkg/uploadserver formReadCloser: parts
/// before `file` are skipped, the body after it is ignored).
///
/// The delimiter search treats the body as if it began with CRLF, so the first boundary line and every later one
/// are the same `CRLF--boundary`. A delimiter split across buffers is carried over (at most its own length).
struct MultipartFormReader {
    enum Failure: Error, Equatable {
        /// Not multipart/form-data, or no usable boundary.
        case notMultipart(String)
        /// The body does not parse, or ends early.
        case malformed(String)
    }

    private enum Phase {
        /// Before a delimiter: the preamble, or a part that is not `file`.
        case skipping
        /// After a delimiter: "--" closes the body, CRLF starts a part's headers.
        case afterDelimiter
        /// Collecting a part's header lines.
        case headers
        /// Inside the file part.
        case file
        /// The file part ended (or the body closed); the rest is ignored.
        case done
    }

    /// `CRLF--boundary`.
    private let delimiter: [UInt8]
    private var phase = Phase.skipping
    /// Bytes that may begin a delimiter (or, in the header phases, an unfinished line), held until the next buffer.
    private var carry: [UInt8] = Array("\r\n".utf8)
    private var headerBytes: [UInt8] = []
    private(set) var fileFound = false

    static let maximumHeaderBytes = 16 << 10

    /// The boundary of a `Content-Type: multipart/form-data; boundary=…` value (Go's mime.ParseMediaType rules:
    /// the type is case-insensitive, the boundary may be quoted, 1 to 70 characters).
    init(contentType: String?) throws {
        guard let contentType else { throw Failure.notMultipart("request Content-Type isn't multipart/form-data") }
        let fields = contentType.split(separator: ";", omittingEmptySubsequences: false)
        guard fields[0].trimmedSpaces().lowercased() == "multipart/form-data" else {
            throw Failure.notMultipart("request Content-Type isn't multipart/form-data")
        }
        var boundary: String?
        for field in fields.dropFirst() {
            guard let equals = field.firstIndex(of: "=") else { continue }
            let name = field[..<equals].trimmedSpaces().lowercased()
            var value = field[field.index(after: equals)...].trimmedSpaces()
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            if name == "boundary" { boundary = value }
        }
        guard let boundary, (1...70).contains(boundary.utf8.count),
              !boundary.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a }) else {
            throw Failure.notMultipart("no multipart boundary param in Content-Type")
        }
        delimiter = Array("\r\n--\(boundary)".utf8)
    }

    var isDone: Bool {
        if case .done = phase { return true }
        return false
    }

    /// Consumes `buffer`; `emit` receives the file part's bytes in order.
    mutating func feed(_ buffer: ByteBuffer, emit: (ByteBuffer) -> Void) throws {
        var rest = buffer
        while rest.readableBytes > 0 {
            switch phase {
            case .done:
                return
            case .skipping, .file:
                scanBody(&rest, emit: emit)
            case .afterDelimiter, .headers:
                try scanHeaders(&rest)
            }
        }
    }

    /// The request body ended.
    mutating func finish() throws {
        switch phase {
        case .done:
            return
        case .file:
            throw Failure.malformed("multipart: the body ended inside part \"file\" (no closing boundary)")
        case .skipping, .afterDelimiter, .headers:
            throw Failure.malformed(fileFound ? "multipart: unexpected end of body" : "multipart: no part named \"file\"")
        }
    }

    // MARK: part bodies

    /// Scans part data for the delimiter: data before it is emitted (file part) or dropped; at the delimiter the
    /// phase moves on and `rest` starts after it.
    private mutating func scanBody(_ rest: inout ByteBuffer, emit: (ByteBuffer) -> Void) {
        let emitting = { (phase: Phase) -> Bool in if case .file = phase { return true } else { return false } }(phase)
        if !carry.isEmpty {
            // A delimiter may start inside the carried bytes: look at them with the head of the new buffer.
            let head = rest.getBytes(at: rest.readerIndex, length: min(rest.readableBytes, delimiter.count)) ?? []
            let window = carry + head
            var matched: (start: Int, complete: Bool)?
            for start in 0..<carry.count {
                let available = window.count - start
                let compare = min(available, delimiter.count)
                if window[start..<start + compare].elementsEqual(delimiter[..<compare]) {
                    matched = (start, compare == delimiter.count)
                    break
                }
            }
            let data = Array(carry[..<(matched?.start ?? carry.count)])
            if emitting, !data.isEmpty { emit(ByteBuffer(bytes: data)) }
            if let matched {
                if matched.complete {
                    rest.moveReaderIndex(forwardBy: matched.start + delimiter.count - carry.count)
                    carry = []
                    endPart()
                } else {
                    // The whole new buffer is part of a possible delimiter still.
                    carry = Array(window[matched.start...])
                    rest.moveReaderIndex(forwardBy: rest.readableBytes)
                }
                return
            }
            carry = []
        }
        let (dataCount, delimiterAt) = rest.withUnsafeReadableBytes { bytes in Self.search(delimiter, in: bytes) }
        if emitting, dataCount > 0, let slice = rest.getSlice(at: rest.readerIndex, length: dataCount) { emit(slice) }
        if let delimiterAt {
            if delimiterAt + delimiter.count <= rest.readableBytes {
                rest.moveReaderIndex(forwardBy: delimiterAt + delimiter.count)
                endPart()
            } else {
                carry = rest.getBytes(at: rest.readerIndex + delimiterAt, length: rest.readableBytes - delimiterAt) ?? []
                rest.moveReaderIndex(forwardBy: rest.readableBytes)
            }
        } else {
            rest.moveReaderIndex(forwardBy: rest.readableBytes)
        }
    }

    /// Where the data before a delimiter ends, and where the first (possibly cut off at the end) delimiter starts.
    static func search(_ delimiter: [UInt8], in bytes: UnsafeRawBufferPointer) -> (data: Int, delimiter: Int?) {
        let first = delimiter[0]
        var index = 0
        while index < bytes.count {
            guard let found = bytes[index...].firstIndex(of: first) else { return (bytes.count, nil) }
            let compare = min(bytes.count - found, delimiter.count)
            if bytes[found..<found + compare].elementsEqual(delimiter[..<compare]) { return (found, found) }
            index = found + 1
        }
        return (bytes.count, nil)
    }

    private mutating func endPart() {
        if case .file = phase {
            phase = .done
        } else {
            phase = .afterDelimiter
            headerBytes = []
        }
    }

    // MARK: part headers

    /// Collects the bytes after a delimiter up to the empty line ending the part's headers.
    private mutating func scanHeaders(_ rest: inout ByteBuffer) throws {
        let available = rest.readableBytes
        let bytes = rest.readBytes(length: min(available, Self.maximumHeaderBytes + 4 - headerBytes.count)) ?? []
        headerBytes += bytes
        if case .afterDelimiter = phase {
            // "--" closes the body; otherwise transport padding (spaces, tabs) and CRLF lead to the headers.
            if headerBytes.count >= 2, headerBytes[0] == UInt8(ascii: "-"), headerBytes[1] == UInt8(ascii: "-") {
                phase = .done
                rest.moveReaderIndex(forwardBy: rest.readableBytes)
                throw Failure.malformed(fileFound ? "multipart: unexpected end" : "multipart: no part named \"file\"")
            }
            guard let lineEnd = Self.find(Array("\r\n".utf8), in: headerBytes) else {
                if headerBytes.count > 256 { throw Failure.malformed("multipart: malformed boundary line") }
                return
            }
            guard headerBytes[..<lineEnd].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) else {
                throw Failure.malformed("multipart: malformed boundary line")
            }
            headerBytes.removeFirst(lineEnd + 2)
            phase = .headers
        }
        if headerBytes.starts(with: Array("\r\n".utf8)) {
            // No header lines at all: the empty line comes first. What follows is the part's data.
            rest.moveReaderIndex(to: rest.readerIndex - (headerBytes.count - 2))
            beginPart(headers: "")
        } else if let end = Self.find(Array("\r\n\r\n".utf8), in: headerBytes) {
            // Give back what follows the headers: it is the part's data.
            rest.moveReaderIndex(to: rest.readerIndex - (headerBytes.count - (end + 4)))
            beginPart(headers: String(decoding: headerBytes[..<end], as: UTF8.self))
        } else if headerBytes.count > Self.maximumHeaderBytes {
            throw Failure.malformed("multipart: part headers longer than \(Self.maximumHeaderBytes) bytes")
        }
    }

    private mutating func beginPart(headers: String) {
        headerBytes = []
        carry = []
        let isFile = Self.formName(ofHeaders: headers) == "file"
        if isFile { fileFound = true }
        phase = isFile ? .file : .skipping
    }

    /// The `name` parameter of a part's `Content-Disposition: form-data; name="…"` (Go's Part.FormName).
    static func formName(ofHeaders text: String) -> String? {
        for line in text.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmedSpaces().lowercased() == "content-disposition" else { continue }
            let fields = line[line.index(after: colon)...].split(separator: ";")
            guard fields.first?.trimmedSpaces().lowercased() == "form-data" else { return nil }
            for field in fields.dropFirst() {
                guard let equals = field.firstIndex(of: "=") else { continue }
                guard field[..<equals].trimmedSpaces().lowercased() == "name" else { continue }
                var value = field[field.index(after: equals)...].trimmedSpaces()
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                return value
            }
        }
        return nil
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmedSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
