@testable import Fetch
import DiskImportCore

/// Registry manifests and indexes as a registry serves them (under each Content-Type a registry may send), the
/// platform choice in an index, and the reference and digest syntax.
enum RegistryTarget {
    static let contentTypes: [String?] = [
        nil, "application/json", RegistryMediaType.ociIndex, RegistryMediaType.ociManifest,
        RegistryMediaType.dockerList, RegistryMediaType.dockerManifest + "; charset=utf-8",
    ]

    static func run(_ bytes: [UInt8]) {
        let seed = inputHash(bytes)
        let digest = RegistryDigest(algorithm: .sha256, hex: String(repeating: "0", count: 64))
        let type = contentTypes[Int(seed % UInt64(contentTypes.count))]
        if let manifest = try? RegistryManifest(bytes: bytes, contentType: type, digest: digest, source: "fuzz") {
            if case .index(let manifests) = manifest.content {
                for architecture in ["amd64", "arm64", "arm", "s390x"] {
                    _ = try? RegistryManifest.select(RegistryPlatform(architecture: architecture), from: manifests, in: "fuzz")
                }
            }
        }
        let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
        _ = try? RegistryReference(parsing: text)
        _ = try? RegistryDigest(parsing: text)
        _ = try? RegistryPlatform(parsingArchitecture: text)
    }
}

/// HTTP response heads as libcurl hands them over, line by line (redirects and 1xx heads included), and what the
/// fetchers read from them: lengths, ranges, validators, and the registry's WWW-Authenticate challenges.
enum HTTPHeadTarget {
    final class Receiver: TransferReceiver {
        func transferDidReceive(head: HTTPResponseHead) -> Bool {
            _ = (head.contentLength, head.contentRange, head.strongETag, head.acceptsRanges, head.resourceLength)
            _ = try? RegistryAuthenticator.mode(from: head, registry: "fuzz")
            for (name, value) in head.headers where name == "www-authenticate" {
                _ = RegistryChallenge.parse(value)
            }
            return true
        }
        func transferDidReceive(body: UnsafeRawBufferPointer) -> Bool { true }
    }

    static func run(_ bytes: [UInt8]) {
        let receiver = Receiver()
        let context = TransferContext(receiver: receiver, cancel: nil, stallTimeout: 60, firstByteTimeout: 60)
        var start = 0
        bytes.withUnsafeBytes { raw in
            for (index, byte) in bytes.enumerated() where byte == 0x0a || index == bytes.count - 1 {
                guard context.header(UnsafeRawBufferPointer(rebasing: raw[start...index])) else { return }
                start = index + 1
            }
        }
        _ = RegistryChallenge.parse(String(decoding: bytes, as: UTF8.self))
    }
}
