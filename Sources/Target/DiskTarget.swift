import DiskImportCore

/// What kind of thing the raw disk is written into.
public enum TargetKind: String, Sendable {
    /// A regular file, written under a temporary name and renamed into place.
    case file
    /// An existing block device, written in place.
    case blockDevice = "block-device"
}

/// What a target did once the reader was done.
public struct TargetOutcome: Sendable {
    public var kind: TargetKind
    /// The disk's length in the target: the guest size, grown by the space rules for files.
    public var length: UInt64
    public var preallocation: PreallocationOutcome
}

/// A place a raw disk is written to: the reader fills it through `ExtentSink`, then the importer finishes it and
/// commits it, or aborts it.
public protocol DiskTarget: ExtentSink {
    var kind: TargetKind { get }
    /// The path the user named.
    var path: String { get }

    /// Called once after the reader wrote `guestSize` bytes of disk: makes every range the reader did not write
    /// read as zeros, sets the final length, and reserves space as asked.
    func finish(guestSize: UInt64) throws -> TargetOutcome

    /// Makes the result durable (fsync when `sync`) and visible under its name.
    func commit(sync: Bool) throws

    /// Gives up: a file target removes its temporary file. Safe to call more than once, and after `commit`.
    func abort()
}
