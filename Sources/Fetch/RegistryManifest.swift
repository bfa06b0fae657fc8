import DiskImportCore
import Foundation

/// The four manifest media types diskimport asks for and reads.
public enum RegistryMediaType {
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"

    /// The Accept header of every manifest request. All four must be listed: registry 2.8 answers 404 for an OCI
    /// index that Accept does not name, and rewrites a Docker v2 manifest to schema 1 when Accept is missing.
    public static let accept = "Accept: \([ociIndex, ociManifest, dockerList, dockerManifest].joined(separator: ", "))"

    static func isIndex(_ type: String) -> Bool { type == ociIndex || type == dockerList }
    static func isImage(_ type: String) -> Bool { type == ociManifest || type == dockerManifest }
}

/// A content descriptor: what a manifest says about a blob or another manifest.
public struct RegistryDescriptor: Sendable, Equatable {
    public var mediaType: String
    public var digest: RegistryDigest
    /// The exact byte count of the content.
    public var size: UInt64
    /// In an index: the platform the manifest is for.
    public var platform: RegistryPlatform?
}

/// A manifest as fetched: its media type (from Content-Type), its digest (over the exact bytes) and its content.
public struct RegistryManifest: Sendable {
    public enum Content: Sendable {
        /// An OCI image index or Docker manifest list: one manifest per platform.
        case index(manifests: [RegistryDescriptor])
        /// An OCI image manifest or Docker v2 schema 2 manifest: a config and layers, in order.
        case image(config: RegistryDescriptor, layers: [RegistryDescriptor])
    }

    public var mediaType: String
    public var digest: RegistryDigest
    public var content: Content
    /// The bytes, as received (their digest is `digest`).
    public var bytes: [UInt8]

    /// Manifests are small; a larger response is refused before it is read into memory (a hostile registry).
    public static let sizeLimit = 4 << 20

    /// Parses `bytes` as the manifest type `contentType` says. A body that names its own `mediaType` must agree
    /// with the header (a mismatch is a confused or hostile registry). A generic Content-Type (application/json,
    /// or none) falls back to the body's `mediaType`, as containerd does.
    public init(bytes: [UInt8], contentType: String?, digest: RegistryDigest, source: String) throws {
        let declared = contentType.map { String($0.split(separator: ";", maxSplits: 1).first ?? "").trimmingSpaces.lowercased() }
        let body: ManifestJSON
        do {
            body = try JSONDecoder().decode(ManifestJSON.self, from: Data(bytes))
        } catch {
            throw DiskImportError.corrupt("the manifest of \(source) is not valid manifest JSON (\(Self.reason(error)))")
        }
        var type = declared ?? ""
        if type.isEmpty || type == "application/json" || type == "text/plain" || type == "application/octet-stream" {
            type = body.mediaType ?? ""
        }
        if type.hasPrefix("application/vnd.docker.distribution.manifest.v1") {
            throw DiskImportError.unsupported("\(source) has a Docker schema 1 manifest (\(type)), which diskimport does not read: push it again with a current tool")
        }
        guard RegistryMediaType.isIndex(type) || RegistryMediaType.isImage(type) else {
            throw DiskImportError.unsupported("\(source): unsupported manifest media type \"\(type.prefix(120))\"")
        }
        if let own = body.mediaType, own != type {
            throw DiskImportError.corrupt("the manifest of \(source) says it is \(own.prefix(120)) but was served as \(type)")
        }
        guard body.schemaVersion == 2 else {
            throw DiskImportError.unsupported("the manifest of \(source) has schemaVersion \(body.schemaVersion.map(String.init) ?? "none"), not 2")
        }
        mediaType = type
        self.digest = digest
        self.bytes = bytes
        if RegistryMediaType.isIndex(type) {
            guard let entries = body.manifests else {
                throw DiskImportError.corrupt("the image index of \(source) has no \"manifests\" list")
            }
            content = .index(manifests: try entries.map { try $0.descriptor(in: source) })
        } else {
            guard let config = body.config, let layers = body.layers else {
                throw DiskImportError.corrupt("the image manifest of \(source) lacks \"config\" or \"layers\"")
            }
            content = .image(config: try config.descriptor(in: source), layers: try layers.map { try $0.descriptor(in: source) })
        }
    }

    private static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.typeMismatch(_, let context),
             DecodingError.valueNotFound(_, let context), DecodingError.keyNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}

/// The JSON shape shared by the four manifest types; which fields must be present depends on the type.
private struct ManifestJSON: Decodable {
    var schemaVersion: Int?
    var mediaType: String?
    var manifests: [DescriptorJSON]?
    var config: DescriptorJSON?
    var layers: [DescriptorJSON]?
}

private struct DescriptorJSON: Decodable {
    var mediaType: String?
    var digest: String
    var size: Int64
    var platform: PlatformJSON?

    func descriptor(in source: String) throws -> RegistryDescriptor {
        guard size >= 0 else { throw DiskImportError.corrupt("the manifest of \(source) gives \(digest.prefix(80)) a negative size") }
        let parsed: RegistryDigest
        do {
            parsed = try RegistryDigest(parsing: digest)
        } catch {
            throw DiskImportError.corrupt("the manifest of \(source) has a bad digest \"\(digest.prefix(80))\"")
        }
        return RegistryDescriptor(mediaType: mediaType ?? "", digest: parsed, size: UInt64(size),
                                  platform: platform.map { RegistryPlatform(os: $0.os, architecture: $0.architecture, variant: $0.variant) })
    }
}

private struct PlatformJSON: Decodable {
    var architecture: String
    var os: String
    var variant: String?
}
