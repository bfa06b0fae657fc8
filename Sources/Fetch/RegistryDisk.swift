import Codecs
import DiskImportCore

/// The disk of a containerDisk image in a registry, as a stream: the manifest resolved (an index narrowed to one
/// platform), then the layers walked in manifest order until one holds a regular file under `disk/` (KubeVirt's
/// containerDisk layout, and CDI's rule). Each layer is downloaded once, front to back: blob → decompression
/// (gzip, zstd or xz, sniffed by magic, never by media type; on its own thread) → tar entry → the caller.
///
/// Every byte of every layer read is checked against the layer's digest and size. The disk stream reports a
/// mismatch instead of its end (it reads the rest of the layer first), and `verifyRest()` does the same for a
/// reader that stops early: either way the import fails before its target is committed.
public final class RegistryDisk {
    public let reference: RegistryReference
    /// What the reference resolves to: for a multi-platform image the index's digest (as `skopeo inspect` and a
    /// pull by tag report it), else the image manifest's.
    public let manifestDigest: RegistryDigest
    /// The image manifest the disk comes from (the platform's, for an index).
    public let imageDigest: RegistryDigest
    /// The platform chosen from an index; nil for a single image manifest.
    public let platform: RegistryPlatform?
    /// The wrappers peeled to reach the disk, outermost first: e.g. ["gzip", "tar"].
    public let layers: [String]
    /// The disk file's bytes.
    public let stream: ByteStream
    /// The disk file's size, from its tar header.
    public let length: UInt64?
    private let verifier: LayerVerifier
    /// Blob bytes of the layers read through before the disk's.
    private let earlierLayerBytes: UInt64

    /// Bytes of every blob read so far, as stored in the registry (compressed): `--json`'s `bytes-read`.
    public var blobBytesRead: UInt64 { earlierLayerBytes + verifier.blobBytesRead }

    private init(reference: RegistryReference, manifestDigest: RegistryDigest, imageDigest: RegistryDigest,
                 platform: RegistryPlatform?, layers: [String], entry: ByteStream, verifier: LayerVerifier,
                 earlierLayerBytes: UInt64) {
        self.reference = reference
        self.earlierLayerBytes = earlierLayerBytes
        self.manifestDigest = manifestDigest
        self.imageDigest = imageDigest
        self.platform = platform
        self.layers = layers
        self.verifier = verifier
        length = entry.expectedLength
        stream = VerifiedEntryStream(entry: entry, verifier: verifier)
    }

    /// Resolves `reference` for `requestedPlatform` (nil: this machine's) and opens the layer that holds the disk,
    /// positioned at the disk's first byte. A single-platform image is taken whatever its platform, as CDI takes it,
    /// unless a platform was requested (`--arch`) that it does not offer.
    public static func open(_ reference: RegistryReference, client: RegistryClient, requestedPlatform: RegistryPlatform?) throws -> RegistryDisk {
        let platform = requestedPlatform ?? .host
        let top = try client.manifest(reference)
        var image = top
        var chosen: RegistryPlatform?
        if case .index(let entries) = top.content {
            let descriptor = try RegistryManifest.select(platform, from: entries, in: reference.description)
            image = try client.manifest(reference.pinned(to: descriptor.digest), expectedSize: descriptor.size)
            chosen = descriptor.platform
        } else if case .image(let config, _) = top.content, let requestedPlatform {
            try client.checkSingleImage(config: config, of: reference, for: requestedPlatform)
        }
        guard case .image(_, let layers) = image.content else {
            throw DiskImportError.unsupported("\(reference): the index for \(platform) points at another index, which diskimport does not follow")
        }
        var earlierLayerBytes: UInt64 = 0
        for (index, layer) in layers.enumerated() where !Self.isForeign(layer) {
            let blob = try client.blob(layer, of: reference)
            let stack = LayerStack(blob, length: layer.size)
            do {
                try stack.peelCompression()
            } catch let error as DiskImportError where error.kind == .unsupported {
                throw DiskImportError.unsupported("layer \(index + 1) of \(reference): \(error.message)")
            }
            let verifier = LayerVerifier(blob: blob, decoded: stack.stream)
            let entry: ByteStream?
            do {
                entry = try TarDiskEntry.find(in: stack.stream)
            } catch let error as DiskImportError where error.kind == .corrupt {
                // A damaged layer is more often a tampered or truncated blob: its digest says which.
                try verifier.verifyRest()
                throw DiskImportError.corrupt("layer \(index + 1) of \(reference) (\(layer.digest)): \(error.message)")
            }
            if let entry {
                return RegistryDisk(reference: reference, manifestDigest: top.digest, imageDigest: image.digest,
                                    platform: chosen, layers: stack.layers + ["tar"], entry: entry, verifier: verifier,
                                    earlierLayerBytes: earlierLayerBytes)
            }
            try verifier.verifyRest()
            earlierLayerBytes += verifier.blobBytesRead
        }
        throw DiskImportError.corrupt("\(reference) has no disk image: none of its \(layers.count) layers holds a file under disk/")
    }

    /// Reads what is left of the disk's layer and checks its digest and size. The importer calls this after the
    /// image reader is done and before the target is committed.
    public func verifyRest() throws { try verifier.verifyRest() }

    /// Layers that live outside the registry (Windows foreign layers, nondistributable OCI layers): not fetched.
    private static func isForeign(_ layer: RegistryDescriptor) -> Bool {
        layer.mediaType.contains("foreign") || layer.mediaType.contains("nondistributable")
    }
}

/// Finishes a layer: drains the decoded stream (so the decoder, on its own thread, has consumed all it will), then
/// the blob, whose end checks size and digest. Only after the decoder has ended (or failed: its thread stops
/// then too) is the blob read on this thread.
///
/// A blob that fails its digest check is the error reported, even when the decoder failed first: a tampered or
/// truncated layer usually breaks its compression before its end, and "does not match its digest" is the truth.
private final class LayerVerifier {
    private let blob: RegistryBlobStream
    private let decoded: ByteStream
    private var done = false

    init(blob: RegistryBlobStream, decoded: ByteStream) {
        self.blob = blob
        self.decoded = decoded
    }

    var blobBytesRead: UInt64 { blob.bytesRead }

    func verifyRest() throws {
        guard !done else { return }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { scratch.deallocate() }
        var decodeError: Error?
        do {
            while try decoded.read(into: scratch) > 0 {}
        } catch {
            decodeError = error
        }
        try blob.verifyRest()
        if let decodeError { throw decodeError }
        done = true
    }
}

/// The disk entry's bytes; at the entry's end, the rest of the layer is read and verified before 0 is returned.
private final class VerifiedEntryStream: ByteStream {
    private let entry: ByteStream
    private let verifier: LayerVerifier

    init(entry: ByteStream, verifier: LayerVerifier) {
        self.entry = entry
        self.verifier = verifier
    }

    var expectedLength: UInt64? { entry.expectedLength }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n: Int
        do {
            n = try entry.read(into: buffer)
        } catch let error as DiskImportError where error.kind == .corrupt {
            try verifier.verifyRest()   // a digest mismatch explains the damage better
            throw error
        }
        if n == 0 && buffer.count > 0 { try verifier.verifyRest() }
        return n
    }
}

extension RegistryDisk: OpenedSource {
    public var displayName: String { reference.description }
    public var peeledLayers: [String] { layers }
    public var storedBytesRead: UInt64? { blobBytesRead }
}
