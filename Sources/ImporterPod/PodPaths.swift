/// Where CDI mounts things in an importer pod; each can be overridden (tests, local runs).
public struct PodPaths: Sendable {
    /// The filesystem volume (CDI's ImporterVolumePath): the disk is `disk.img` in it, an archive is extracted into it.
    public var dataDirectory = "/data"
    /// The block volume (CDI's WriteBlockPath): block mode when it exists.
    public var blockDevice = "/dev/cdi-block-volume"
    /// The scratch volume, used only when it exists.
    public var scratchDirectory = "/scratch"
    public var terminationLog = "/dev/termination-log"
    /// CDI's secret extra headers (ImporterSecretExtraHeadersDir).
    public var secretHeadersDirectory = "/extraheaders"

    public init() {}

    /// CDI's ImporterWritePath.
    public var diskImage: String {
        (dataDirectory.hasSuffix("/") ? dataDirectory : dataDirectory + "/") + "disk.img"
    }

    /// CDI decides the volume mode by whether the block path exists (os.Stat).
    public var isBlockMode: Bool { DirectoryListing.exists(blockDevice) }

    /// The scratch directory when it is mounted (exists as a directory), else nil.
    public var scratch: String? { DirectoryListing.isDirectory(scratchDirectory) ? scratchDirectory : nil }
}
