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
