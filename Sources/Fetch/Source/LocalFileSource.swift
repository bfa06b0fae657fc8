import DiskImportCore

/// A local file or block device as a source: streamed from its start, or read at any offset.
public final class LocalFileSource: OpenedSource {
    public let file: LocalFile
    public let stream: ByteStream

    public init(file: LocalFile) {
        self.file = file
        stream = file.stream()
    }

    /// A path or standard input: a regular file or block device as a `LocalFileSource`, a pipe, FIFO or character
    /// device as a stream of unknown length (read as HTTP bodies are: front to back, scratch only with --scratch).
    public static func open(_ input: LocalInput) -> OpenedSource {
        switch input {
        case .file(let file): return LocalFileSource(file: file)
        case .stream(let stream): return StreamSource(stream: stream, displayName: stream.name)
        }
    }

    public var displayName: String { file.path }
    public var length: UInt64? { file.length }
    public var localFile: LocalFile? { file }
    public func rangedReader() throws -> RandomAccessSource? { file }
    public var prefersRangedReads: Bool { true }
}
