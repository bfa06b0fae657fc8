import DiskImportCore

/// An http(s) resource as a source: its body streamed on its own thread (resuming dropped connections), and, when
/// `--http-random-access` asks for it, read with ranged GETs instead.
public final class HTTPSource: OpenedSource {
    public let url: String
    private let body: HTTPStream
    /// The body, its head sniffed when the server calls it HTML.
    public let stream: ByteStream
    private let options: HTTPOptions
    /// The range probe's answer, once asked: a source, or nil for a server without ranges.
    private var probed: RandomAccessSource??

    /// Opens the body (the first GET). `bufferCount` × `bufferSize` bounds the download queue.
    public init(url: String, options: HTTPOptions, bufferCount: Int = 8, bufferSize: Int = 512 << 10) throws {
        self.url = url
        self.options = options
        body = try HTTPStream(client: HTTPClient(options: options), url: url, bufferCount: bufferCount, bufferSize: bufferSize)
        let peekable = PeekableStream(body)
        stream = peekable
        let contentType = body.head["content-type"]
        if HTMLPage.isHTMLType(contentType), HTMLPage.startsLikeHTML(try peekable.peek(HTMLPage.headLength)) {
            throw DiskImportError.unsupported("\(DisplayURL.redacted(url)): the server answered \(body.head.status) with "
                + "Content-Type \(contentType ?? "text/html") and an HTML page, not a disk image")
        }
    }

    public var displayName: String { DisplayURL.redacted(url) }
    public var length: UInt64? { body.expectedLength }

    /// Only with --http-random-access: streaming stays the default (see HTTPOptions.randomAccess for the measurement).
    public var prefersRangedReads: Bool { options.randomAccess }

    /// Ranged GETs of the same resource; nil when the server does not serve ranges. Probed once, on first use.
    public func rangedReader() throws -> RandomAccessSource? {
        if let probed { return probed }
        let ranged = try HTTPRangeSource.open(client: HTTPClient(options: options), url: url)
        probed = .some(ranged)
        return ranged
    }
}
