import DiskImage
import DiskImportCore
import Fetch

/// What `diskimport info docker://…` adds to an image's description: the digests a pull resolves, which is what
/// a poller compares (DataImportCron), and the platform picked from an index.
public struct RegistryImageInfo: Sendable {
    /// The digest the reference resolves to: the index's for a multi-platform image, as `skopeo inspect` reports.
    public var manifestDigest: RegistryDigest
    /// The image manifest the disk comes from; the same as `manifestDigest` for a single-platform image.
    public var imageDigest: RegistryDigest
    /// The platform chosen from the index; nil for a single image manifest.
    public var platform: RegistryPlatform?

    var humanLines: [String] {
        var lines = ["manifest digest: \(manifestDigest)"]
        if let platform {
            lines.append("platform: \(platform)")
            lines.append("platform manifest digest: \(imageDigest)")
        }
        return lines
    }

    var jsonMembers: [(String, JSON)] {
        var members: [(String, JSON)] = [("manifest-digest", .string(manifestDigest.description))]
        if let platform {
            members.append(("platform", .string(platform.description)))
            members.append(("platform-manifest-digest", .string(imageDigest.description)))
        }
        return members
    }
}

extension ImageInspector {
    /// Resolves the image, streams the head of its disk (only as far as the format's header needs: the layer is
    /// not downloaded whole) and describes it.
    static func inspectRegistry(_ source: String, network: HTTPOptions, platform: RegistryPlatform?) throws -> ImageInfo {
        var request = ConvertRequest(source: source, target: "")
        request.network = network
        request.platform = platform
        let converter = Converter(request: request)
        let (reader, layers) = try converter.openReader()
        guard let disk = converter.registryDisk else {
            throw DiskImportError.usage("\(source) is not a docker:// reference")
        }
        let header = (reader as? Qcow2HeaderProviding)?.header
        let registry = RegistryImageInfo(manifestDigest: disk.manifestDigest, imageDigest: disk.imageDigest, platform: disk.platform)
        return ImageInfo(filename: disk.reference.description, format: header == nil ? "raw" : "qcow2", layers: layers,
                         virtualSize: reader.virtualSize, actualSize: nil, qcow2: header, registry: registry)
    }
}
