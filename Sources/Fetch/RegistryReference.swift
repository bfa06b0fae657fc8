import DiskImportCore

/// A `docker://` image reference: `[host[:port]/]repository[:tag][@sha256:hex]`, as docker and skopeo read it.
///
/// - The first path component is a registry host when it contains a `.` or a `:`, or is `localhost`
///   (`[::1]:5000` too); otherwise the registry is Docker Hub: `docker.io`, reached at `registry-1.docker.io`, with
///   `library/` before one-component names (`fedora` is `docker.io/library/fedora`).
/// - No tag and no digest means `:latest`. With both, the digest decides what is pulled (the tag is kept for
///   messages only), as docker does.
/// - Repository components are lowercase `[a-z0-9]` runs joined by `.`, `_`, `__` or dashes; tags are
///   `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; digests are `sha256:` + 64 hex digits (or `sha512:` + 128).
public struct RegistryReference: Sendable, Equatable, CustomStringConvertible {
    /// The registry as written (`127.0.0.1:5000`, `quay.io`), or `docker.io` when none was.
    public var registry: String
    /// The repository path inside the registry (`containerdisks/fedora`, `library/alpine`).
    public var repository: String
    public var tag: String?
    public var digest: RegistryDigest?

    public static let dockerHub = "docker.io"
    /// Where Docker Hub's registry API answers.
    public static let dockerHubAPIHost = "registry-1.docker.io"

    public init(registry: String, repository: String, tag: String? = nil, digest: RegistryDigest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses a reference, with or without the `docker://` prefix.
    public init(parsing text: String) throws {
        var rest = Substring(text)
        if rest.hasPrefix("docker://") { rest = rest.dropFirst("docker://".count) }
        let shown = "docker://" + rest.prefix(200)
        func bad(_ why: String) -> DiskImportError {
            DiskImportError.usage("\(shown) is not a valid image reference: \(why)")
        }
        guard !rest.isEmpty else { throw bad("it is empty") }
        guard rest.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { throw bad("it has spaces or characters outside ASCII") }

        var digest: RegistryDigest?
        if let at = rest.firstIndex(of: "@") {
            let text = String(rest[rest.index(after: at)...])
            guard let parsed = try? RegistryDigest(parsing: text) else {
                throw bad("\"\(text.prefix(140))\" is not a digest (sha256: and 64 lowercase hex digits)")
            }
            digest = parsed
            rest = rest[..<at]
        }
        // The registry host: the first component, when it looks like a host name (docker's rule).
        var registry = Self.dockerHub
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" {
                guard Self.isValidHost(first) else { throw bad("\"\(first)\" is not a valid registry host[:port]") }
                registry = String(first)
                rest = rest[rest.index(after: slash)...]
            }
        }
        // A tag follows the last ':' of the last component (a ':' before a '/' belongs to a host, handled above).
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let value = rest[rest.index(after: colon)...]
            guard Self.isValidTag(value) else { throw bad("\"\(value.prefix(140))\" is not a valid tag") }
            tag = String(value)
            rest = rest[..<colon]
        }
        let components = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard !rest.isEmpty, components.allSatisfy(Self.isValidComponent) else {
            throw bad("the repository \"\(rest.prefix(140))\" must be lowercase letters, digits and separators (. _ __ -) between slashes")
        }
        var repository = String(rest)
        if registry == Self.dockerHub && components.count == 1 { repository = "library/" + repository }
        guard repository.utf8.count <= 255 else { throw bad("the repository name is longer than 255 characters") }
        if tag == nil && digest == nil { tag = "latest" }
        self.init(registry: registry, repository: repository, tag: tag, digest: digest)
    }

    /// The host (and port) the registry API answers on: Docker Hub's API host for `docker.io`.
    public var apiHost: String { registry == Self.dockerHub ? Self.dockerHubAPIHost : registry }

    /// What goes after `/manifests/`: the digest when there is one, else the tag.
    public var manifestReference: String { digest?.description ?? tag ?? "latest" }

    /// The same repository at `digest` (for a platform manifest chosen from an index, or a resolved tag).
    public func pinned(to digest: RegistryDigest) -> RegistryReference {
        RegistryReference(registry: registry, repository: repository, tag: nil, digest: digest)
    }

    /// `docker://registry/repository[:tag][@digest]`: no credentials are ever part of a reference.
    public var description: String {
        var text = "docker://\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    // MARK: Grammar (distribution/reference)

    private static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }

    /// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
    static func isValidComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) { i += 1; continue }
            // A separator run: one '.', one '_', "__", or any number of '-'.
            var j = i
            while j < bytes.count && !isLowerAlnum(bytes[j]) { j += 1 }
            let separator = bytes[i..<j]
            let valid = separator.elementsEqual([0x2e]) || separator.elementsEqual([0x5f]) || separator.elementsEqual([0x5f, 0x5f])
                || separator.allSatisfy { $0 == 0x2d }
            guard valid else { return false }
            i = j
        }
        return true
    }

    /// `[\w][\w.-]{0,127}`
    static func isValidTag(_ tag: Substring) -> Bool {
        func word(_ c: UInt8) -> Bool { isLowerAlnum(c) || (c >= 0x41 && c <= 0x5a) || c == 0x5f }
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, word(first), bytes.count <= 128 else { return false }
        return bytes.allSatisfy { word($0) || $0 == 0x2e || $0 == 0x2d }
    }

    /// A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional decimal port.
    static func isValidHost(_ host: Substring) -> Bool {
        var name = host
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.utf8.allSatisfy({ $0 == 0x3a || $0 == 0x2e || isHexDigit($0) }) else { return false }
            name = host[host.index(after: close)...]
            if name.isEmpty { return true }
            guard name.hasPrefix(":") else { return false }
            return isValidPort(name.dropFirst())
        }
        if let colon = name.firstIndex(of: ":") {
            guard isValidPort(name[name.index(after: colon)...]) else { return false }
            name = name[..<colon]
        }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return !name.isEmpty && labels.allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last, first != 0x2d, last != 0x2d, bytes.count <= 63 else { return false }
            return bytes.allSatisfy { isLowerAlnum($0) || ($0 >= 0x41 && $0 <= 0x5a) || $0 == 0x2d }
        }
    }

    private static func isValidPort(_ port: Substring) -> Bool {
        guard !port.isEmpty, port.count <= 5, port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(port) else { return false }
        return value > 0 && value < 65536
    }

    static func isHexDigit(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) }
}

/// A content digest, `sha256:<64 hex>` (or `sha512:<128 hex>`), lowercase as registries write them.
public struct RegistryDigest: Sendable, Hashable, CustomStringConvertible {
    public var algorithm: DigestAlgorithm
    /// Lowercase hex.
    public var hex: String

    public init(algorithm: DigestAlgorithm, hex: String) {
        self.algorithm = algorithm
        self.hex = hex
    }

    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let algorithm = DigestAlgorithm(rawValue: String(parts[0])),
              algorithm == .sha256 || algorithm == .sha512, algorithm.isDigestHex(parts[1]) else {
            throw DiskImportError.corrupt("\"\(text.prefix(140))\" is not a digest (sha256: and 64 lowercase hex digits)")
        }
        self.init(algorithm: algorithm, hex: String(parts[1]))
    }

    /// The digest of `bytes` with this digest's algorithm.
    public static func of(_ bytes: [UInt8], algorithm: DigestAlgorithm = .sha256) throws -> RegistryDigest {
        let digest = try Digest(algorithm)
        bytes.withUnsafeBytes { digest.update($0) }
        return RegistryDigest(algorithm: algorithm, hex: Digest.hex(digest.finalize()))
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }
}
