import DiskImportCore

/// A local file or block device as a source: streamed from its start, or read at any offset.
public final class LocalFileSource: OpenedSource {
    public let file: LocalFile
    public let stream: ByteStream

    public init(path: String) throws {
        file = try LocalFile(path: path)
        stream = file.stream()
    }

    public var displayName: String { file.path }
    public var length: UInt64? { file.length }
    public var localFile: LocalFile? { file }
    public func rangedReader() throws -> RandomAccessSource? { file }
    public var prefersRangedReads: Bool { true }
}
