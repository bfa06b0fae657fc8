import SystemPackage

/// The guest data a reader will store, known from the image's metadata before any of it is read: what a target
/// must find room for (zeros inside it may still end up as holes, so it is an upper bound).
public struct AllocatedData: Sendable, Equatable {
    /// Bytes of guest data.
    public var bytes: UInt64
    /// The local file the data is copied from, when there is one: a target on the same reflink filesystem may
    /// share its blocks instead of storing them.
    public var sourceFile: FileDescriptor?

    public init(bytes: UInt64, sourceFile: FileDescriptor?) {
        self.bytes = bytes
        self.sourceFile = sourceFile
    }
}
