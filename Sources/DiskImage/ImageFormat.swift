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
