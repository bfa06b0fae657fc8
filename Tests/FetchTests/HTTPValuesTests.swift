import DiskImportCore
import Testing
@testable import Fetch

@Suite struct DisplayURLTests {
    @Test(arguments: [
        ("https://alice:secret@host:8443/path/disk.qcow2", "https://host:8443/path/disk.qcow2"),
        ("https://host/disk.img?X-Amz-Signature=abc&X-Amz-Credential=k", "https://host/disk.img?…"),
        ("http://user@host/a#frag", "http://host/a"),
        ("https://host", "https://host"),
        ("https://u:p@host?token=1", "https://host?…"),
    ])
    func credentialsAndQueriesAreHidden(url: String, shown: String) {
        #expect(DisplayURL.redacted(url) == shown)
    }

    @Test func hostKeepsThePort() {
        #expect(DisplayURL.host("https://a:b@127.0.0.1:5443/v2/") == "127.0.0.1:5443")
    }
}

@Suite struct HTTPHeaderTests {
    @Test func parsesNameAndValue() throws {
        let header = try HTTPHeader(parsing: "X-Trace:  abc def ")
        #expect(header == HTTPHeader(name: "X-Trace", value: "abc def"))
    }

    @Test(arguments: ["no colon", ": empty name", "Bad Name: x", "X: a\r\nInjected: b"])
    func rejectsMalformedHeaders(line: String) {
        #expect(throws: DiskImportError.self) { try HTTPHeader(parsing: line) }
    }
}

@Suite struct HTTPResponseHeadTests {
    @Test func partialContent() {
        let head = HTTPResponseHead(status: 206, headers: [("content-range", "bytes 100-199/4259840"), ("etag", "\"6b06-41\""),
                                                          ("accept-ranges", "bytes")])
        #expect(head.contentRange?.first == 100 && head.contentRange?.last == 199 && head.contentRange?.total == 4_259_840)
        #expect(head.resourceLength == 4_259_840)
        #expect(head.strongETag == "\"6b06-41\"")
        #expect(head.acceptsRanges)
        #expect(head["ETag"] == "\"6b06-41\"")
    }

    @Test func weakETagsAndBadRangesAreIgnored() {
        let head = HTTPResponseHead(status: 206, headers: [("etag", "W/\"x\""), ("content-range", "bytes 9-3/10")])
        #expect(head.strongETag == nil)
        #expect(head.contentRange == nil)
        #expect(!head.acceptsRanges)
    }
}

@Suite struct ChecksumTests {
    @Test func parsesEveryAlgorithm() throws {
        for algorithm in DigestAlgorithm.allCases {
            let text = "\(algorithm.rawValue.uppercased()):" + String(repeating: "Ab", count: algorithm.size)
            let checksum = try Checksum(parsing: text)
            #expect(checksum.algorithm == algorithm)
            #expect(checksum.hex == String(repeating: "ab", count: algorithm.size))
        }
    }

    @Test(arguments: ["sha256", "sha256:", "crc32:1234", "sha256:zz" + String(repeating: "0", count: 62), "md5:" + String(repeating: "0", count: 33)])
    func rejectsMalformedChecksums(text: String) {
        #expect(throws: DiskImportError.self) { try Checksum(parsing: text) }
    }

    /// FIPS 180 / RFC 1321 test vectors for "abc".
    @Test(arguments: [
        (DigestAlgorithm.md5, "900150983cd24fb0d6963f7d28e17f72"),
        (.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (.sha512, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    ])
    func digestsMatchTheStandardVectors(algorithm: DigestAlgorithm, hex: String) throws {
        let digest = try Digest(algorithm)
        Array("abc".utf8).withUnsafeBytes { digest.update($0) }
        #expect(Digest.hex(digest.finalize()) == hex)
    }

    @Test func aCopyFinalizesWithoutEndingTheOriginal() throws {
        let digest = try Digest(.sha256)
        Array("ab".utf8).withUnsafeBytes { digest.update($0) }
        let snapshot = try digest.copy()
        Array("c".utf8).withUnsafeBytes { digest.update($0) }
        #expect(Digest.hex(digest.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.hex(snapshot.finalize()) == "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603")
    }

    @Test func checksumStreamVerifiesWhatTheConsumerLeft() throws {
        let bytes = Array("abc".utf8)
        let good = try ChecksumStream(BytesStream(bytes), expected: Checksum(parsing: "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        var one = [UInt8](repeating: 0, count: 1)
        #expect(try one.withUnsafeMutableBytes { try good.read(into: $0) } == 1)
        try good.verify()
        let bad = try ChecksumStream(BytesStream(bytes), expected: Checksum(parsing: "md5:" + String(repeating: "0", count: 32)))
        #expect(throws: DiskImportError(.checksum, "checksum mismatch: expected md5:00000000000000000000000000000000, got md5:900150983cd24fb0d6963f7d28e17f72")) {
            try bad.verify()
        }
    }
}

/// An in-memory stream.
final class BytesStream: ByteStream {
    private let bytes: [UInt8]
    private var position = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - position)
        bytes.withUnsafeBytes { buffer.baseAddress?.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
        position += n
        return n
    }
}
