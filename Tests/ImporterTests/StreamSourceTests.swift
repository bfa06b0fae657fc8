import DiskImportCore
import Fetch
import Foundation
import Importer
import Testing

/// The stream source seam: the Converter and `info` take an already open stream (standard input, an upload's body,
/// an object store's GET) as they take a path, with or without its length.
@Suite struct StreamSourceTests {
    /// 1 MiB + 512 bytes of a pattern with a zero run in the middle.
    static let disk: [UInt8] = (0..<(1 << 20) + 512).map { i in (i / 4096) % 3 == 1 ? 0 : UInt8(truncatingIfNeeded: i &* 31 &+ 7) }

    final class Directory {
        let path = NSTemporaryDirectory() + "diskimport-stream-source-\(UUID().uuidString)"
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func file(_ name: String) -> String { path + "/" + name }
    }

    /// A stream of `path`'s bytes that hides what it is: no length, no local file, no ranges.
    func opaqueStream(_ path: String) throws -> StreamSource {
        StreamSource(stream: HiddenLength(try LocalFile(path: path).stream()), displayName: "the test's stream")
    }

    @Test(arguments: [false, true])
    func aStreamConvertsAsAFileDoes(_ lengthKnown: Bool) throws {
        let dir = try Directory()
        let raw = dir.file("disk.raw")
        try Data(Self.disk).write(to: URL(fileURLWithPath: raw))
        let source = lengthKnown ? StreamSource(stream: try LocalFile(path: raw).stream(), displayName: "sized") : try opaqueStream(raw)
        var request = ConvertRequest(source: "ignored: the source is given", target: dir.file("out.img"))
        request.sync = false
        let result = try Converter(request: request, source: source).run()
        #expect(result.layers == ["raw"])
        #expect(result.virtualSize == UInt64(Self.disk.count))
        #expect(result.bytesRead == UInt64(Self.disk.count))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("out.img"))) == Data(Self.disk))
    }

    @Test func aStreamOfUnknownLengthIsBoundedByTheRequestedSize() throws {
        let dir = try Directory()
        let raw = dir.file("disk.raw")
        try Data(Self.disk).write(to: URL(fileURLWithPath: raw))
        var request = ConvertRequest(source: "-", target: dir.file("out.img"))
        request.requestedSize = 1 << 20
        request.sync = false
        let error = #expect(throws: DiskImportError.self) { _ = try Converter(request: request, source: try opaqueStream(raw)).run() }
        #expect(error?.kind == .limit)
        // The requested size, or what the target holds under the space rules, whichever is smaller.
        #expect(error?.message.hasPrefix("decompressed data exceeds ") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.img")))
    }

    @Test func infoDescribesAStream() throws {
        let dir = try Directory()
        let raw = dir.file("disk.raw")
        try Data(Self.disk).write(to: URL(fileURLWithPath: raw))
        let sized = try ImageInspector.inspect(StreamSource(stream: try LocalFile(path: raw).stream(), displayName: "sized"))
        #expect(sized.filename == "sized")
        #expect(sized.format == "raw")
        #expect(sized.virtualSize == UInt64(Self.disk.count))
        #expect(sized.actualSize == nil)
        let opaque = try ImageInspector.inspect(try opaqueStream(raw))
        #expect(opaque.virtualSize == nil)
    }
}

/// Passes a stream through without its length, as a pipe would.
final class HiddenLength: ByteStream {
    private let upstream: ByteStream
    init(_ upstream: ByteStream) { self.upstream = upstream }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try upstream.read(into: buffer) }
}
