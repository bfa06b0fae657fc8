import DiskImportCore
import Foundation

extension RegistryClient {
    /// Image configurations are small JSON documents; a larger one is refused before it is read (a hostile registry).
    static let configSizeLimit: UInt64 = 4 << 20

    /// The platform an image's configuration blob names (`os`, `architecture`, `variant`), its digest and size
    /// checked; nil when the configuration does not say.
    func platform(ofImage config: RegistryDescriptor, of reference: RegistryReference) throws -> RegistryPlatform? {
        guard config.size <= Self.configSizeLimit else {
            throw DiskImportError(.limit, "the image configuration of \(reference) is \(config.size) bytes: refusing more than \(Self.configSizeLimit)")
        }
        let blob = try blob(config, of: reference)
        var bytes = [UInt8](repeating: 0, count: Int(config.size) + 1)
        var filled = 0
        while true {
            let n = try bytes.withUnsafeMutableBytes { try blob.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            if n == 0 { break }
            filled += n
        }
        struct Config: Decodable {
            var architecture: String?
            var os: String?
            var variant: String?
        }
        guard let decoded = try? JSONDecoder().decode(Config.self, from: Data(bytes[..<filled])),
              let architecture = decoded.architecture, !architecture.isEmpty else { return nil }
        return RegistryPlatform(os: decoded.os ?? "linux", architecture: architecture, variant: decoded.variant)
    }

    /// Refuses a single-platform image whose configuration names a platform that `requested` (an explicit `--arch`)
    /// cannot run, naming the one it offers, as an index without that platform is refused.
    func checkSingleImage(config: RegistryDescriptor, of reference: RegistryReference, for requested: RegistryPlatform) throws {
        guard let offered = try platform(ofImage: config, of: reference), requested.rank(of: offered) == nil else { return }
        throw DiskImportError.unsupported("\(reference) has no image for \(requested) (it has \(offered) only; it is not "
            + "a multi-platform image; choose \(offered.architecture) with --arch, or leave --arch out)")
    }
}
