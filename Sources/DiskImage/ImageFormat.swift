import DiskImportCore

/// A disk image format diskimport reads: its name and the type that makes its readers. Each format's folder declares
/// its value (`ImageFormat.raw` in Raw/, `ImageFormat.qcow2` in Qcow2/), and `FormatSniffer` names it by magic.
public struct ImageFormat: Equatable, Sendable, CustomStringConvertible {
    /// The format's readers and what they need.
    public let reading: any DiskImageFormat.Type

    public init(_ reading: any DiskImageFormat.Type) { self.reading = reading }

    /// The name in `layers`, info's `format` and messages: qemu-img's name for the format.
    public var name: String { reading.name }
    public var description: String { name }

    public static func == (a: ImageFormat, b: ImageFormat) -> Bool { a.name == b.name }
}

extension ImageFormat {
    /// Checks the format the bytes say against the one the user asserted (`-f FMT`, as for qemu-img, but asserting
    /// rather than overriding: the bytes decide, a mismatch is an error). Wrappers are not formats: `-f qcow2` holds
    /// for a qcow2 inside gzip.
    public func check(asserted: String?, source: String) throws {
        guard let asserted, asserted.lowercased() != name else { return }
        throw DiskImportError.unsupported("\(source): the image is \(name), not \(asserted) (-f \(asserted))")
    }
}
