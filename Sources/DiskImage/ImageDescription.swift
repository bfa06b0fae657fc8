import DiskImportCore

/// What `info` says of an image inside its layers.
public struct ImageDescription: Sendable {
    /// The guest size in bytes; nil when only reading all of it tells (raw under a compression wrapper).
    public var virtualSize: UInt64?
    /// The format's own fields, when it has any beyond the size (a qcow2's header).
    public var details: (any ImageDetails)?

    public init(virtualSize: UInt64?, details: (any ImageDetails)? = nil) {
        self.virtualSize = virtualSize
        self.details = details
    }
}

/// A format's own fields for `info`, as qemu-img info shows them for that format.
public protocol ImageDetails: Sendable {
    /// Members after `actual-size` in `--output json`, with qemu-img's keys.
    var infoJSONMembers: [(String, JSON)] { get }
    /// Lines after `disk size:` in the human output.
    var infoHumanLines: [String] { get }
}

extension ImageDetails {
    public var infoJSONMembers: [(String, JSON)] { [] }
    public var infoHumanLines: [String] { [] }
}
