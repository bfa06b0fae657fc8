import DiskImportCore

/// An image platform (os, architecture, variant) and the rules for picking one out of an index, after containerd's
/// `platforms` package: names are normalized (`x86_64` is amd64, `aarch64` is arm64, `armhf` is arm/v7), arm64
/// matches its v8 variant or none, amd64 its v1 or none, and a 32-bit arm machine runs v7, v6 and v5 images, the
/// closest first.
public struct RegistryPlatform: Sendable, Equatable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?

    public init(os: String = "linux", architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// Parses `--arch`: `ARCH` or `ARCH/VARIANT` (`arm64`, `arm/v7`, `amd64`), or `OS/ARCH[/VARIANT]`
    /// (`linux/arm64`); the OS is always linux.
    public init(parsingArchitecture text: String) throws {
        let usage = DiskImportError.usage("--arch \"\(text.prefix(60))\" is not ARCH or ARCH/VARIANT (e.g. amd64, arm64, arm/v7)")
        var parts = text.lowercased().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(Self.isNameByte) }) else { throw usage }
        if parts.count == 3 || (parts.count == 2 && parts[0] == "linux") {
            guard parts[0] == "linux" else {
                throw DiskImportError.usage("--arch \"\(text.prefix(60))\": only linux images can be imported")
            }
            parts.removeFirst()
        }
        guard (1...2).contains(parts.count) else { throw usage }
        self.init(architecture: parts[0], variant: parts.count == 2 ? parts[1] : nil)
    }

    /// The platform of this machine: linux on its architecture (amd64 on x86_64, arm64 on aarch64).
    public static var host: RegistryPlatform {
        #if arch(x86_64)
        return RegistryPlatform(architecture: "amd64")
        #elseif arch(arm64)
        return RegistryPlatform(architecture: "arm64")
        #elseif arch(arm)
        return RegistryPlatform(architecture: "arm", variant: "v7")
        #elseif arch(i386)
        return RegistryPlatform(architecture: "386")
        #elseif arch(s390x)
        return RegistryPlatform(architecture: "s390x")
        #elseif arch(powerpc64le)
        return RegistryPlatform(architecture: "ppc64le")
        #else
        return RegistryPlatform(architecture: "unknown")
        #endif
    }

    /// `linux/arm64/v8`, as docker prints platforms.
    public var description: String {
        [os, architecture, variant].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
    }

    /// os, architecture and variant as containerd normalizes them; the variant is nil when it is the default.
    var normalized: (os: String, architecture: String, variant: String?) {
        let os = self.os.lowercased()
        var architecture = self.architecture.lowercased()
        var variant = variant?.lowercased()
        if variant?.isEmpty == true { variant = nil }
        switch architecture {
        case "i386": architecture = "386"
        case "x86_64", "x86-64", "amd64":
            architecture = "amd64"
            if variant == "v1" { variant = nil }
        case "aarch64", "arm64":
            architecture = "arm64"
            if variant == "8" || variant == "v8" { variant = nil }
        case "armhf":
            architecture = "arm"
            variant = "v7"
        case "armel":
            architecture = "arm"
            variant = "v6"
        case "arm":
            switch variant {
            case nil, "7": variant = "v7"
            case "5", "6", "8": variant = "v" + variant!
            default: break
            }
        default: break
        }
        return (os, architecture, variant)
    }

    /// How well an image for `candidate` suits this (wanted) platform: nil when it cannot run, else a rank where
    /// 0 is an exact match and larger numbers are older compatible variants.
    func rank(of candidate: RegistryPlatform) -> Int? {
        let want = normalized, have = candidate.normalized
        guard have.os == want.os, have.architecture == want.architecture else { return nil }
        if have.variant == want.variant { return 0 }
        // 32-bit arm runs older variants: v7 runs v6 and v5 images, v8 (aarch32) runs v7, v6, v5.
        if want.architecture == "arm", let w = want.variant.flatMap(Self.armLevel), let h = have.variant.flatMap(Self.armLevel), h < w {
            return w - h
        }
        return nil
    }

    private static func armLevel(_ variant: String) -> Int? {
        guard variant.hasPrefix("v"), let level = Int(variant.dropFirst()), (5...8).contains(level) else { return nil }
        return level
    }

    private static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d || c == 0x2e
    }
}

extension RegistryManifest {
    /// The descriptor of the manifest for `platform` in an index: the best rank, the first in index order among
    /// equals. None is a clear error listing what the index offers.
    public static func select(_ platform: RegistryPlatform, from manifests: [RegistryDescriptor], in source: String) throws -> RegistryDescriptor {
        var best: (descriptor: RegistryDescriptor, rank: Int)?
        for descriptor in manifests where RegistryMediaType.isImage(descriptor.mediaType) || descriptor.mediaType.isEmpty {
            guard let candidate = descriptor.platform, let rank = platform.rank(of: candidate) else { continue }
            if best == nil || rank < best!.rank { best = (descriptor, rank) }
        }
        if let best { return best.descriptor }
        let offered = manifests.compactMap { $0.platform?.description }.filter { $0 != "unknown/unknown" }
        throw DiskImportError.unsupported("\(source) has no image for \(platform) (it has "
            + (offered.isEmpty ? "no platform" : offered.joined(separator: ", ")) + "; choose one with --arch)")
    }
}
