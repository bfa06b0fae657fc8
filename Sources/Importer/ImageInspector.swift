import Codecs
import DiskImage
import DiskImportCore
import Fetch
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// What `diskimport info` reports about a source.
public struct ImageInfo: Sendable {
    public var filename: String
    /// The image format inside every wrapper, by its qemu-img name: "qcow2", "raw".
    public var format: String
    /// Outermost first, e.g. ["gzip", "qcow2"].
    public var layers: [String]
    /// Guest size in bytes; nil when it cannot be known without decompressing everything (raw in a stream).
    public var virtualSize: UInt64?
    /// Bytes the source file occupies on disk (st_blocks * 512, as qemu-img reports); nil for a network source
    /// (qemu-img's "unavailable").
    public var actualSize: UInt64?
    /// The format's own fields (`ImageDetails`): a qcow2's header.
    public var details: (any ImageDetails)?
    /// For a docker:// source: the manifest digests and the platform chosen.
    public var registry: RegistryImageInfo?

    public init(filename: String, format: String, layers: [String], virtualSize: UInt64?, actualSize: UInt64?,
                details: (any ImageDetails)? = nil, registry: RegistryImageInfo? = nil) {
        self.filename = filename
        self.format = format
        self.layers = layers
        self.virtualSize = virtualSize
        self.actualSize = actualSize
        self.details = details
        self.registry = registry
    }

    public var qcow2: Qcow2Header? { details as? Qcow2Header }

    /// qemu-img info --output json's keys where one exists, plus `layers`.
    public var json: JSON {
        var members: [(String, JSON)] = [("filename", .string(filename)), ("format", .string(format))]
        if let virtualSize { members.append(("virtual-size", .number(Double(virtualSize)))) }
        if let actualSize { members.append(("actual-size", .number(Double(actualSize)))) }
        if let qcow2 {
            members.append(("cluster-size", .number(Double(qcow2.clusterSize))))
            if let name = qcow2.extensions.backingFileName, !name.isEmpty {
                members.append(("backing-filename", .string(name)))
                if let full = fullBackingFilename(qcow2) { members.append(("full-backing-filename", .string(full))) }
                if let format = qcow2.extensions.backingFormat { members.append(("backing-filename-format", .string(format))) }
            }
            members.append(("dirty-flag", .bool(qcow2.isDirty)))
            members.append(("format-specific", qcow2.formatSpecificJSON))
        } else {
            members += details?.infoJSONMembers ?? []
            members.append(("dirty-flag", .bool(false)))
        }
        members.append(("layers", .array(layers.map { .string($0) })))
        if let registry { members += registry.jsonMembers }
        return .object(members)
    }

    /// Lines in qemu-img info's human format, plus the layer stack when there is a wrapper.
    public var humanText: String {
        var lines = ["image: \(filename)"]
        if let registry { lines += registry.humanLines }
        if layers.count > 1 { lines.append("layers: \(layers.joined(separator: " > "))") }
        lines.append("file format: \(format)")
        if let virtualSize {
            lines.append("virtual size: \(Self.sizeText(virtualSize)) (\(virtualSize) bytes)")
        } else {
            lines.append("virtual size: unknown until decompressed")
        }
        lines.append("disk size: \(actualSize.map(Self.sizeText) ?? "unavailable")")
        if let qcow2 {
            lines.append("cluster_size: \(qcow2.clusterSize)")
            if let name = qcow2.extensions.backingFileName, !name.isEmpty {
                let full = fullBackingFilename(qcow2)
                lines.append("backing file: \(name)" + (full.map { $0 != name ? " (actual path: \($0))" : "" } ?? ""))
                if let format = qcow2.extensions.backingFormat { lines.append("backing file format: \(format)") }
            }
            if qcow2.isDirty { lines.append("dirty flag: true") }
            lines.append("Format specific information:")
            lines += qcow2.formatSpecificLines.map { "    " + $0 }
        } else if let details {
            lines += details.infoHumanLines
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The backing file's name resolved against the image's location: a directory for a local image, the URL's
    /// path for an http(s) one (as qemu-img reports it for a curl image).
    private func fullBackingFilename(_ qcow2: Qcow2Header) -> String? {
        guard let name = qcow2.extensions.backingFileName, !name.isEmpty else { return nil }
        if case .http = SourceLocation(filename) { return Self.urlBackingFilename(name, imageURL: filename) }
        return qcow2.fullBackingFilename(imagePath: filename)
    }

    /// qemu's size_to_str: three significant digits in the binary unit that keeps the number under 1000.
    static func sizeText(_ value: UInt64) -> String {
        let suffixes = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        let scaled = Double(value) * 1024 / 1000
        let unit = value == 0 ? 0 : min(6, Int(scaled.exponent) / 10)
        let number = Double(value) / Double(UInt64(1) << UInt64(unit * 10))
        let decimals = number >= 100 ? 0 : number >= 10 ? 1 : 2
        var text = String(Int((number * pow10(decimals)).rounded()))
        if decimals > 0 {
            while text.count <= decimals { text = "0" + text }
            text.insert(".", at: text.index(text.endIndex, offsetBy: -decimals))
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return "\(text) \(suffixes[unit])"
    }

    private static func pow10(_ n: Int) -> Double { n == 0 ? 1 : n == 1 ? 10 : 100 }
}

/// Describes a source without converting it: the layer stack sniffed by magic and the image's header, reading only
/// as far as that needs.
///
/// Unlike an import, nothing runs ahead: decoders run inline on this thread (xz on one thread), and an http(s)
/// download queue is small, so a multi-GiB `.qcow2.xz` costs a few hundred KiB of transfer before the source is
/// dropped (which cancels the download). A qcow2 with a backing file is described, not refused: info only reads.
public enum ImageInspector {
    public static func inspect(_ source: String, network: HTTPOptions = HTTPOptions(), platform: RegistryPlatform? = nil) throws -> ImageInfo {
        try inspect(try SourceOpener.open(SourceLocation(source), network: network, platform: platform, purpose: .inspect))
    }

    /// Describes an opened source (a stream source included).
    public static func inspect(_ source: any OpenedSource) throws -> ImageInfo {
        let actualSize = try source.localFile.map(allocatedBytes)
        let (format, layers, description) = try describe(source)
        let registry = (source as? RegistryDisk).map {
            RegistryImageInfo(manifestDigest: $0.manifestDigest, imageDigest: $0.imageDigest, platform: $0.platform)
        }
        return ImageInfo(filename: source.displayName, format: format.name, layers: layers, virtualSize: description.virtualSize,
                         actualSize: actualSize, details: description.details, registry: registry)
    }

    /// The image's format, the layer names (outermost first) and what its format says of it. A plain local image
    /// whose format reads local files is described from the file; anything else from its stream.
    private static func describe(_ source: any OpenedSource) throws -> (ImageFormat, [String], ImageDescription) {
        let name = source.displayName
        if let file = source.localFile, case .image(let format) = FormatSniffer.detect(head: try file.head(FormatSniffer.headLength)),
           format.reading.capabilities.contains(.localFile) {
            return (format, [format.name], try format.reading.describe(file, name: name))
        }
        let stack = LayerStack(source.stream, length: source.length, peeled: source.peeledLayers, placement: .inline)
        let format = try stack.peelToImage()
        return (format, stack.layers + [format.name], try format.reading.describe(stack.stream, length: stack.length, name: name))
    }

    /// st_blocks * 512 of the file (fstat).
    static func allocatedBytes(_ file: LocalFile) throws -> UInt64 {
        var st = Glibc.stat()
        if fstat(file.descriptor.rawValue, &st) != 0 { throw DiskImportError.io("stat", file.path, Errno(rawValue: errno)) }
        return UInt64(st.st_blocks) * 512
    }
}

extension ImageInfo {
    /// qemu's path_combine for a backing file named by an image at a URL: an absolute name or one with a protocol
    /// stands alone; a relative one replaces the last path segment of the URL.
    static func urlBackingFilename(_ name: String, imageURL: String) -> String {
        if name.hasPrefix("/") || name.contains("://") { return name }
        let path = imageURL.prefix { $0 != "?" && $0 != "#" }
        guard let schemeEnd = path.range(of: "://")?.upperBound, let slash = path[schemeEnd...].lastIndex(of: "/") else {
            return String(path) + "/" + name
        }
        return String(path[...slash]) + name
    }
}
