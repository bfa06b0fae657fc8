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
    /// The format's own fields (`ImageDetails`): a qcow2's header, snapshots and bitmaps (`Qcow2Details`).
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

    public var qcow2: Qcow2Header? { (details as? Qcow2Details)?.header }
    /// The qcow2 snapshot table and persistent bitmaps; nil when they were not read (a stream: see `Qcow2Details`).
    public var snapshots: [Qcow2Snapshot]? { (details as? Qcow2Details)?.snapshots }
    public var bitmaps: [Qcow2Bitmap]? { (details as? Qcow2Details)?.bitmaps }

    /// qemu-img info --output json's keys where one exists, plus `layers`.
    public var json: JSON {
        var members: [(String, JSON)] = []
        if let snapshots, !snapshots.isEmpty { members.append(("snapshots", .array(snapshots.map(\.json)))) }
        members += [("filename", .string(filename)), ("format", .string(format))]
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
            members.append(("format-specific", qcow2.formatSpecificJSON(bitmaps: bitmaps)))
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
            lines.append("virtual size: \(HumanSize.text(virtualSize)) (\(virtualSize) bytes)")
        } else {
            lines.append("virtual size: unknown until decompressed")
        }
        lines.append("disk size: \(actualSize.map(HumanSize.text) ?? "unavailable")")
        if let qcow2 {
            lines.append("cluster_size: \(qcow2.clusterSize)")
            // block/qapi.c bdrv_image_info_dump: the dirty flag right after the cluster size, in qemu's words.
            if qcow2.isDirty { lines.append("cleanly shut down: no") }
            if let name = qcow2.extensions.backingFileName, !name.isEmpty {
                let full = fullBackingFilename(qcow2)
                lines.append("backing file: \(name)" + (full.map { $0 != name ? " (actual path: \($0))" : "" } ?? ""))
                if let format = qcow2.extensions.backingFormat { lines.append("backing file format: \(format)") }
            }
            if let snapshots, !snapshots.isEmpty {
                lines += Qcow2Snapshot.humanLines(snapshots)
            } else if snapshots == nil && qcow2.snapshotCount > 0 {
                lines.append("Snapshot list: \(qcow2.snapshotCount) snapshot(s), not read (only a file read at any offset shows them)")
            }
            lines.append("Format specific information:")
            lines += qcow2.formatSpecificLines(bitmaps: bitmaps).map { "    " + $0 }
        } else if let details {
            lines += details.infoHumanLines
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The backing file's name resolved against the image's location: a directory for a local image, the URL's
    /// path for an http(s) one (as qemu-img reports it for a curl image).
    func fullBackingFilename(_ qcow2: Qcow2Header) -> String? {
        guard let name = qcow2.extensions.backingFileName, !name.isEmpty else { return nil }
        if case .http = SourceLocation(filename) { return Self.urlBackingFilename(name, imageURL: filename) }
        return qcow2.fullBackingFilename(imagePath: filename)
    }
}

/// Describes a source without converting it: the layer stack sniffed by magic and the image's header, reading only
/// as far as that needs.
///
/// Unlike an import, nothing runs ahead: decoders run inline on this thread (xz on one thread), and an http(s)
/// download queue is small, so a multi-GiB `.qcow2.xz` costs a few hundred KiB of transfer before the source is
/// dropped (which cancels the download). A qcow2 with a backing file is described, not refused: info only reads.
public enum ImageInspector {
    /// - Parameters:
    ///   - format: by its bytes, or `-f FMT` (`FormatChoice`).
    ///   - ovaDisk: the disk of an OVA to describe (`--disk N`, 1-based); nil, the first.
    public static func inspect(_ source: String, network: HTTPOptions = HTTPOptions(), platform: RegistryPlatform? = nil,
                               format: FormatChoice = .probe, ovaDisk: Int? = nil) throws -> ImageInfo {
        try inspect(try SourceOpener.open(SourceLocation(source), network: network, platform: platform, purpose: .inspect),
                    format: format, ovaDisk: ovaDisk)
    }

    /// Describes an opened source (a stream source included).
    public static func inspect(_ source: any OpenedSource, format choice: FormatChoice = .probe, ovaDisk: Int? = nil) throws -> ImageInfo {
        let actualSize = try source.localFile.map(allocatedBytes)
        let (format, layers, description) = try describe(source, choice: choice, ovaDisk: ovaDisk)
        try Converter.checkOvaDisk(ovaDisk, layers: layers, source: source.displayName)
        let registry = (source as? RegistryDisk).map {
            RegistryImageInfo(manifestDigest: $0.manifestDigest, imageDigest: $0.imageDigest, platform: $0.platform)
        }
        return ImageInfo(filename: source.displayName, format: format.name, layers: layers, virtualSize: description.virtualSize,
                         actualSize: actualSize, details: description.details, registry: registry)
    }

    /// The image's format, the layer names (outermost first) and what its format says of it. A plain local image
    /// whose format reads local files is described from the file; anything else from its stream. Where the source
    /// reads its end cheaply (a local file, HTTP with ranges), a raw image's last sector is sniffed (a DMG is
    /// refused, as `convert` refuses it), and raw inside xz gets its size from the xz index.
    private static func describe(_ source: any OpenedSource, choice: FormatChoice, ovaDisk: Int?) throws -> (ImageFormat, [String], ImageDescription) {
        let name = source.displayName
        if let file = source.localFile, let format = try localFormat(file, choice: choice, name: name) {
            if format == .raw, choice.sniffsRawTrailer, let trailer = try FormatSniffer.trailer(of: file) { try FormatSniffer.refuse(trailer: trailer) }
            return (format, [format.name], try format.reading.describe(file, name: name))
        }
        let stack = LayerStack(source.stream, length: source.length, peeled: source.peeledLayers, placement: .inline)
        stack.ovaDisk = ovaDisk
        return try stack.peelToImage(choice: choice, source: name, xzLayer: { stack in try rawInsideXz(stack, of: source, choice: choice) }) { format in
            if format == .raw, choice.sniffsRawTrailer, stack.layers.isEmpty, let ranged = try? source.rangedReader(),
               let trailer = try? FormatSniffer.trailer(of: ranged) {
                try FormatSniffer.refuse(trailer: trailer)
            }
            return (format, stack.layers + [format.name], try format.reading.describe(stack.stream, length: stack.length, name: name))
        }
    }

    /// The format of a plain local file whose format describes local files; nil when it is wrapped, or unsupported
    /// and probed (the stream path refuses it with its name).
    private static func localFormat(_ file: LocalFile, choice: FormatChoice, name: String) throws -> ImageFormat? {
        let detected = FormatSniffer.detect(head: try file.head(FormatSniffer.headLength))
        if case .unsupported = detected, choice == .probe { return nil }
        guard let format = try choice.format(for: detected, source: name, inside: ""),
              format.reading.capabilities.contains(.localFile) else { return nil }
        return format
    }

    /// A raw image inside the xz layer at the top of `stack` when that layer is the whole source and the source reads
    /// at any offset: its size is in the xz index at the end, padded to a sector as `convert` pads it. Nil otherwise
    /// (the size is then unknown until decompressed).
    private static func rawInsideXz(_ stack: LayerStack, of source: any OpenedSource, choice: FormatChoice) throws -> (ImageFormat, [String], ImageDescription)? {
        guard stack.layers.isEmpty, let ranged = try? source.rangedReader(),
              let head = try XzHead.decoded(peeking: stack.stream, count: FormatSniffer.headLength),
              (try? choice.format(for: FormatSniffer.detect(head: head), source: source.displayName, inside: "")) == .raw
        else { return nil }
        let size = try XzIndex.uncompressedSize(of: ranged)
        _ = try stack.handOver(.compressed(.xz))
        return (.raw, stack.layers + [ImageFormat.raw.name], ImageDescription(virtualSize: RawFormat.paddedSize(size)))
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
