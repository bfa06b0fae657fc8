import Codecs
import DiskImportCore

/// How the image's format is decided: by its bytes (`FormatSniffer`), or named by the user with `-f FMT`, which, as
/// qemu-img's `-f`, skips the probe: `-f raw` reads any image as its bytes, `-f vpc` reads a fixed vhd (its footer
/// only at the end, which the probe calls raw) as vpc, and any other name must be what the bytes are, since that
/// format's own header check would refuse them (qemu-img: "Image is not in qcow2 format", "invalid VMDK image
/// descriptor"). Wrappers are not image formats: compression and tar around the image are peeled either way.
public enum FormatChoice: Sendable, Equatable {
    case probe
    case named(ImageFormat)

    /// The formats `-f` names, by qemu-img's names.
    public static let formats: [ImageFormat] = [.raw, .qcow2, .vmdk, .vpc, .vhdx, .vdi]

    /// `-f NAME` (any case); nil is `.probe`. An unknown name is a usage error listing the known ones.
    public init(parsing name: String?) throws {
        guard let name else { self = .probe; return }
        guard let format = Self.formats.first(where: { $0.name == name.lowercased() }) else {
            throw DiskImportError.usage("-f \(name.prefix(40)): unknown image format; diskimport reads "
                + Self.formats.map(\.name).joined(separator: ", "))
        }
        self = .named(format)
    }

    /// Whether a raw image's last sector is sniffed for a format that a raw copy would garble (a DMG): only when
    /// the bytes decide; `-f raw` copies them whatever they are.
    public var sniffsRawTrailer: Bool { self == .probe }

    /// The format to read an image with, given what its head says; nil when that is a wrapper, to peel first.
    /// `source` and `inside` name the image for messages.
    public func format(for detected: DetectedFormat, source: String, inside: String) throws -> ImageFormat? {
        switch (self, detected) {
        case (_, .compressed), (_, .tar):
            return nil
        case (.probe, .image(let format)):
            return format
        case (.probe, .unsupported(let name)):
            throw DiskImportError.unsupported("unsupported format \(name)" + inside)
        case (.named(let named), _) where named == .raw:
            return .raw
        case (.named(let named), .image(let format)) where format == named:
            return format
        case (.named(let named), .image(let format)) where named == .vpc && format == .raw:
            // block/vpc.c vpc_open: without a footer copy at the head, the footer at the end makes a fixed disk;
            // VpcFormat's readers look there and refuse an image that has none.
            return .vpc
        case (.named(let named), _):
            throw DiskImportError.unsupported("\(source): not a \(named.name) image (-f \(named.name)): its bytes are "
                + Self.name(of: detected) + inside)
        }
    }

    private static func name(of detected: DetectedFormat) -> String {
        switch detected {
        case .image(let format): return format.name
        case .unsupported(let name): return name
        case .compressed(let compression): return compression.rawValue
        case .tar: return "tar"
        }
    }
}
