import NIOCore
import Testing
@testable import UploadServer

/// The form reader against bodies cut into buffers at every possible place: the file part's bytes come out whole
/// and exact, whatever the cuts.
struct MultipartFormReaderTests {
    static let contentType = "multipart/form-data; boundary=XyZ-boundary"

    static func body(parts: [(name: String, data: [UInt8])], preamble: String = "") -> [UInt8] {
        var out = Array(preamble.utf8)
        for part in parts {
            out += Array("--XyZ-boundary\r\nContent-Disposition: form-data; name=\"\(part.name)\"; filename=\"x.img\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            out += part.data
            out += Array("\r\n".utf8)
        }
        out += Array("--XyZ-boundary--\r\n".utf8)
        return out
    }

    /// Feeds `body` in pieces of `size` (and a last shorter one); returns the file bytes.
    static func read(_ body: [UInt8], pieces size: Int) throws -> [UInt8] {
        var reader = try MultipartFormReader(contentType: contentType)
        var file: [UInt8] = []
        var index = 0
        while index < body.count {
            let end = min(body.count, index + size)
            try reader.feed(ByteBuffer(bytes: body[index..<end])) { file += $0.readableBytesView }
            index = end
        }
        try reader.finish()
        return file
    }

    /// Data that looks like the delimiter's start in many places: CR, LF, dashes, a boundary prefix.
    static let tricky: [UInt8] = Array("\r\n\r\n--XyZ-bound\r\n--XyZ\r\r\n-".utf8) + (0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) }
        + Array("\r\n--XyZ-boundar".utf8)

    @Test func fileBytesSurviveEveryCut() throws {
        let body = Self.body(parts: [("note", Array("skip me\r\n--".utf8)), ("file", Self.tricky), ("after", [1, 2, 3])],
                             preamble: "preamble text\r\n")
        for size in [1, 2, 3, 5, 7, 13, 16, 17, 64, body.count] {
            #expect(try Self.read(body, pieces: size) == Self.tricky, "pieces of \(size)")
        }
    }

    @Test func emptyFilePart() throws {
        let body = Self.body(parts: [("file", [])])
        #expect(try Self.read(body, pieces: 4) == [])
    }

    @Test func missingFilePartIsMalformed() throws {
        let body = Self.body(parts: [("other", [9, 9])])
        #expect(throws: MultipartFormReader.Failure.malformed("multipart: no part named \"file\"")) { try Self.read(body, pieces: 10) }
    }

    @Test func bodyEndingInsideTheFileIsMalformed() throws {
        let body = Array(Self.body(parts: [("file", Self.tricky)]).prefix(200))
        #expect(throws: MultipartFormReader.Failure.self) { try Self.read(body, pieces: 50) }
    }

    @Test func garbageIsMalformed() throws {
        #expect(throws: MultipartFormReader.Failure.self) { try Self.read(Array("just some bytes".utf8), pieces: 3) }
    }

    @Test func contentTypeMustBeFormDataWithABoundary() {
        #expect(throws: MultipartFormReader.Failure.self) { try MultipartFormReader(contentType: "application/octet-stream") }
        #expect(throws: MultipartFormReader.Failure.self) { try MultipartFormReader(contentType: "multipart/form-data") }
        #expect(throws: MultipartFormReader.Failure.self) { try MultipartFormReader(contentType: nil) }
        #expect(throws: Never.self) { try MultipartFormReader(contentType: "Multipart/Form-Data; boundary=\"quoted b\"") }
    }

    @Test func formNameOfHeaders() {
        #expect(MultipartFormReader.formName(ofHeaders: "Content-Disposition: form-data; name=\"file\"; filename=\"a\"") == "file")
        #expect(MultipartFormReader.formName(ofHeaders: "content-disposition: form-data; filename=\"a\"; name=file") == "file")
        #expect(MultipartFormReader.formName(ofHeaders: "Content-Type: text/plain") == nil)
    }
}
