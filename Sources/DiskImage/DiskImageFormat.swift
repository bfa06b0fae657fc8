import DiskImportCore

/// One disk image format, behind the one narrow interface the pipeline knows (nbdkit's plugin idea): the chooser
/// asks what the format can do with the source at hand (`capabilities`) and takes the reader it offers. A format is
/// one folder under Sources/DiskImage/ with a type conforming to this, plus one line in `FormatSniffer`.
/// (`SendableMetatype`: `ImageFormat` holds the type and is shared across threads.)
public protocol DiskImageFormat: SendableMetatype {
    /// qemu-img's name for the format ("raw", "qcow2"): in `layers`, info's `format` and messages.
    static var name: String { get }

    /// The readers beyond `streamingReader` that the format has.
    static var capabilities: FormatCapabilities { get }

    /// A reader with random access to the image: `source` is a local file when the capabilities hold `.localFile`
    /// (extents, kernel copies, backing files beside it), any ranged source when they hold `.rangedReads`.
    static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader

    /// A reader of the image front to back from the head of `stream` (inside a wrapper, over HTTP, from a pipe);
    /// `length` is the image's length in bytes when the layer under it knows it.
    static func streamingReader(_ stream: PeekableStream, length: UInt64?, options: ReaderOptions) throws -> DiskImageReader

    /// With `.xzBlocks`: a reader that decodes the .xz data next in `xz` itself, its blocks in parallel straight into
    /// the target; `decodedHead` is the start of the image inside. Nil when this image cannot be read that way (it is
    /// then decoded in order and read by `streamingReader`).
    static func xzBlockReader(_ xz: PeekableStream, decodedHead: [UInt8], options: ReaderOptions) throws -> DiskImageReader?

    /// What `info` reports, from the head of `stream` only (as far as the format's header needs).
    static func describe(_ stream: PeekableStream, length: UInt64?, name: String) throws -> ImageDescription

    /// What `info` reports of a plain image with random access (a local file).
    static func describe(_ source: RandomAccessSource, name: String) throws -> ImageDescription
}

extension DiskImageFormat {
    public static var capabilities: FormatCapabilities { [] }

    public static func randomAccessReader(_ source: RandomAccessSource, options: ReaderOptions) throws -> DiskImageReader {
        throw DiskImportError.unsupported("\(options.name): \(name) images are read front to back only")
    }

    public static func xzBlockReader(_ xz: PeekableStream, decodedHead: [UInt8], options: ReaderOptions) throws -> DiskImageReader? {
        nil
    }

    public static func describe(_ source: RandomAccessSource, name: String) throws -> ImageDescription {
        try describe(PeekableStream(source.stream()), length: source.length, name: name)
    }
}

/// The readers a format has beyond the streaming one.
public struct FormatCapabilities: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Reads a plain local file with random access.
    public static let localFile = FormatCapabilities(rawValue: 1 << 0)
    /// Reads any random-access source (HTTP with ranges, an object store) with random access.
    public static let rangedReads = FormatCapabilities(rawValue: 1 << 1)
    /// Decodes the .xz around it block-parallel (`xzBlockReader`).
    public static let xzBlocks = FormatCapabilities(rawValue: 1 << 2)
}

/// What a reader may use from the request.
public struct ReaderOptions: Sendable {
    /// The image in messages: a path, a URL without credentials, a docker:// reference.
    public var name: String
    /// Where a streaming reader may keep data that arrives before it can be placed; nil: none (an image that needs
    /// it fails with "scratch space required").
    public var scratchDirectory: String?
    /// Follow the backing files of a local image; false refuses an image that has one.
    public var followBacking: Bool
    /// The most guest bytes an image of unknown size may decode to (a decompression bomb), and where that bound
    /// comes from, for the message. Readers that honour it report it as `decodedSizeLimit`, to be tightened once the
    /// target is open.
    public var decodedLimit: UInt64
    public var decodedLimitReason: String?
    /// The wrappers around the image, for messages: " inside xz inside gzip"; empty at the top.
    public var inside: String
    /// The import's memory for large buffers, which its stages share (one per import).
    public var memory: MemoryBudget
    /// Whether a raw image's last sector is sniffed for a format a raw copy would garble (a DMG is refused); false
    /// under `-f raw`, which copies the bytes whatever they are (`FormatChoice.sniffsRawTrailer`).
    public var sniffsRawTrailer: Bool

    public init(name: String, scratchDirectory: String? = nil, followBacking: Bool = true,
                decodedLimit: UInt64 = .max, decodedLimitReason: String? = nil, inside: String = "",
                sniffsRawTrailer: Bool = true, memory: MemoryBudget = MemoryBudget()) {
        self.sniffsRawTrailer = sniffsRawTrailer
        self.name = name
        self.scratchDirectory = scratchDirectory
        self.followBacking = followBacking
        self.decodedLimit = decodedLimit
        self.decodedLimitReason = decodedLimitReason
        self.inside = inside
        self.memory = memory
    }
}
