import Codecs
import DiskImage
import DiskImportCore
import Fetch

/// `diskimport info` over a stream (an http(s) body, or a local file inside wrappers): the layer stack sniffed by
/// magic and the image's header, reading only as far as that needs.
///
/// Unlike `Converter.openReader`, nothing runs ahead: decoders run inline on this thread (xz on one thread), and the
/// download queue is small, so a multi-GiB `.qcow2.xz` costs a few hundred KiB of transfer before the stream is
/// dropped (which cancels the download). A qcow2 with a backing file is described, not refused: info only reads.
struct StreamInspection {
    var layers: [String] = []
    /// The guest size: a qcow2's header size, or a raw layer's length when it is known (the body's Content-Length,
    /// a tar entry's size); nil for raw under a compression wrapper, which only decompressing all of it tells.
    var virtualSize: UInt64?
    var qcow2: Qcow2Header?

    /// Buffers of the download queue for info: the first cluster of a qcow2 or the first blocks of a wrapper fit.
    static let httpBufferCount = 2
    static let httpBufferSize = 256 << 10

    /// Sniffs `source` (whose length is `length` when known) layer by layer; `name` names it in messages.
    init(_ source: ByteStream, length: UInt64?, name: String) throws {
        var stream = PeekableStream(source)
        var length = length
        while true {
            switch FormatSniffer.detect(head: try stream.peek(FormatSniffer.headLength)) {
            case .compressed(let compression):
                try Converter.admitWrapper(below: layers)
                layers.append(compression.rawValue)
                // xz on one thread: the threaded decoder would read whole blocks ahead for its workers.
                let decoder = compression == .xz ? try XzStream(stream, threads: 1) : try compression.decoder(for: stream)
                stream = PeekableStream(decoder)
                length = nil
            case .tar:
                try Converter.admitWrapper(below: layers)
                layers.append("tar")
                let entry = try TarDiskEntry.open(stream)
                length = entry.expectedLength
                stream = PeekableStream(entry)
            case .unsupported(let format):
                throw DiskImportError.unsupported("unsupported format \(format)" + Converter.inside(layers))
            case .image(.qcow2):
                layers.append("qcow2")
                let header = try Qcow2Header.read(from: stream, name: name)
                qcow2 = header
                virtualSize = header.guestSize
                return
            case .image(.raw):
                layers.append("raw")
                virtualSize = length
                return
            }
        }
    }
}

extension ImageInspector {
    /// An http(s) source: the body streamed from its start; `filename` is the URL without credentials or query.
    static func inspectHTTP(_ url: String, network: HTTPOptions) throws -> ImageInfo {
        let body = try HTTPStream(client: HTTPClient(options: network), url: url,
                                  bufferCount: StreamInspection.httpBufferCount, bufferSize: StreamInspection.httpBufferSize)
        let name = DisplayURL.redacted(url)
        let found = try StreamInspection(body, length: body.expectedLength, name: name)
        return ImageInfo(filename: name, format: found.qcow2 == nil ? "raw" : "qcow2", layers: found.layers,
                         virtualSize: found.virtualSize, actualSize: nil, qcow2: found.qcow2)
    }

    /// qemu's path_combine for a backing file named by an image at a URL: an absolute name or one with a protocol
    /// stands alone; a relative one replaces the last path segment of the URL.
    static func urlBackingFilename(_ name: String, imageURL: String) -> String {
        if name.hasPrefix("/") || name.contains("://") { return name }
        let path = imageURL.prefix { $0 != "?" && $0 != "#" }
        guard let schemeEnd = path.range(of: "://")?.upperBound, let slash = path[schemeEnd...].lastIndex(of: "/") else {
            return String(path) + "/" + name
        }
        return String(path[...slash]) + name
    }
}
