import DiskImportCore

/// Opens the source a SOURCE argument or IMPORTER_ENDPOINT names.
public enum SourceOpener {
    /// What the source will be read for, which bounds how far a transport reads ahead.
    public enum Purpose: Sendable {
        /// A conversion: every byte, as fast as the stages after it take them.
        case convert
        /// `info`: a header, then the source is dropped; the download queue stays small.
        case inspect
    }

    /// Opens `location`. `checksum` says a `--checksum` will verify the bytes, which registry sources refuse (their
    /// layers are verified by digest).
    public static func open(_ location: SourceLocation, network: HTTPOptions, platform: RegistryPlatform?,
                            checksum: Bool = false, purpose: Purpose = .convert) throws -> OpenedSource {
        switch location {
        case .file(let path):
            return LocalFileSource.open(try LocalInput.open(path: path))
        case .standardInput:
            return LocalFileSource.open(try LocalInput.standardInput())
        case .unsupportedScheme(let scheme):
            throw DiskImportError.unsupported("\(scheme):// sources are not supported: diskimport reads \(SourceLocation.supported)")
        case .http(let url):
            switch purpose {
            case .convert: return try HTTPSource(url: url, options: network)
            // The first cluster of a qcow2 or the first blocks of a wrapper fit in two buffers.
            case .inspect: return try HTTPSource(url: url, options: network, bufferCount: 2, bufferSize: 256 << 10)
            }
        case .registry(let text):
            // Manifests resolved and verified, then the layer holding disk/ streamed (download ‖ decompress ‖ reader).
            guard !checksum else {
                throw DiskImportError.usage("--checksum is for http(s) and local sources: registry layers are verified by their digests (pin the image with @sha256:…)")
            }
            let reference = try RegistryReference(parsing: text)
            let client = try RegistryClient(for: reference, options: network)
            return try RegistryDisk.open(reference, client: client, requestedPlatform: platform)
        }
    }
}
