import DiskImportCore
import Foundation

/// A client of one OCI / Docker registry (the distribution API, `/v2/`), on the HTTP layer: authentication
/// (`RegistryAuthenticator`), manifests verified against their digests, and blobs streamed with their digest and
/// size checked (`RegistryBlobStream`).
///
/// https is spoken, and plain http only with verification off (`--insecure`, INSECURE_TLS) for a registry whose
/// https ping fails, as containers/image does for CDI (see `RegistryAuthenticator.ping`); `HTTPOptions` carries
/// trust (`--ca-file`, `--cert-dir`, `--insecure`), credentials and proxies. One client may serve many requests to its registry (the cron controller keeps one per source): tokens
/// are kept per repository and renewed when they expire or the registry refuses them.
public final class RegistryClient: Sendable {
    /// The registry as written in references (`127.0.0.1:5000`, `docker.io`).
    public let registry: String
    let http: HTTPClient
    let authenticator: RegistryAuthenticator

    public init(registry: String, http: HTTPClient) {
        self.registry = registry
        self.http = http
        let host = registry == RegistryReference.dockerHub ? RegistryReference.dockerHubAPIHost : registry
        authenticator = RegistryAuthenticator(http: http, host: host, registryName: registry)
    }

    /// `https://host[:port]`, or `http://…` for a plain-HTTP registry reached with verification off (known after
    /// the first ping).
    func baseURL() throws -> String { try authenticator.baseURL() }

    /// A client for the registry of `reference`, with its own HTTP client.
    public convenience init(for reference: RegistryReference, options: HTTPOptions) throws {
        self.init(registry: reference.registry, http: try HTTPClient(options: options))
    }

    /// The digest `reference` names now: the manifest digest a pull by tag would get (for a multi-arch image, the
    /// index's digest, as `skopeo inspect` reports it). This is what a poller compares between runs.
    ///
    /// Asks with `HEAD /v2/NAME/manifests/REF` and reads `Docker-Content-Digest`; a registry that sends no digest
    /// there (some do not for HEAD) gets a `GET`, and the digest is computed over the exact bytes.
    public func resolveDigest(_ reference: RegistryReference) throws -> RegistryDigest {
        let response = try send(manifestURL(reference), method: .head, headers: [RegistryMediaType.accept],
                                reference: reference, limit: 0)
        guard response.head.status == 200 else { throw failure(response, reference: reference, what: "manifest") }
        if let header = response.head["docker-content-digest"], let digest = try? RegistryDigest(parsing: header) {
            if let pinned = reference.digest, pinned != digest {
                throw DiskImportError(.checksum, "\(reference): the registry reports digest \(digest) for it")
            }
            return digest
        }
        return try manifest(reference).digest
    }

    /// The manifest `reference` names, with every check a pull needs: status 200, Content-Type one of the four
    /// manifest types, at most `RegistryManifest.sizeLimit` bytes, `Docker-Content-Digest` equal to the digest of
    /// the bytes, and — fetched by digest — the requested digest equal to it too. `expectedSize` (a descriptor's
    /// size) is checked when given.
    public func manifest(_ reference: RegistryReference, expectedSize: UInt64? = nil) throws -> RegistryManifest {
        let response = try send(manifestURL(reference), method: .get, headers: [RegistryMediaType.accept],
                                reference: reference, limit: RegistryManifest.sizeLimit)
        guard response.head.status == 200 else { throw failure(response, reference: reference, what: "manifest") }
        let bytes = response.body
        if let expectedSize, UInt64(bytes.count) != expectedSize {
            throw DiskImportError(.checksum, "the manifest of \(reference) is \(bytes.count) bytes, not the \(expectedSize) its index says")
        }
        // The digest of the bytes, with the algorithm of the digest they are checked against.
        var checked: RegistryDigest?
        if let header = response.head["docker-content-digest"] {
            guard let claimed = try? RegistryDigest(parsing: header) else {
                throw DiskImportError.corrupt("\(reference): the registry sent a malformed Docker-Content-Digest header")
            }
            let actual = try RegistryDigest.of(bytes, algorithm: claimed.algorithm)
            guard actual == claimed else {
                throw DiskImportError(.checksum, "the manifest of \(reference) does not match the registry's Docker-Content-Digest "
                    + "(\(claimed); its bytes hash to \(actual))")
            }
            checked = actual
        }
        if let pinned = reference.digest {
            let actual = try RegistryDigest.of(bytes, algorithm: pinned.algorithm)
            guard actual == pinned else {
                throw DiskImportError(.checksum, "the manifest served for \(reference) hashes to \(actual): refusing it")
            }
            checked = actual
        }
        let digest = try checked ?? RegistryDigest.of(bytes)
        return try RegistryManifest(bytes: bytes, contentType: response.head["content-type"], digest: digest,
                                    source: reference.description)
    }

    /// The body of blob `descriptor` of `repository`, streamed (`GET /v2/NAME/blobs/DIGEST`, following redirects to
    /// a storage host without the Authorization header), its SHA-256 and size checked as it is read.
    public func blob(_ descriptor: RegistryDescriptor, of reference: RegistryReference) throws -> RegistryBlobStream {
        let url = "\(try baseURL())/v2/\(reference.repository)/blobs/\(descriptor.digest)"
        let scope = Self.pullScope(reference)
        var renewed = false
        while true {
            let authorization = try authenticator.authorization(scope: scope)
            do {
                let body = try HTTPStream(client: http, url: url, headers: authorization.headers,
                                          sendCredentials: authorization.sendCredentials)
                return try RegistryBlobStream(body, descriptor: descriptor, name: "\(reference.repository)@\(descriptor.digest)")
            } catch let error as DiskImportError where error.kind == .auth && !renewed {
                // The stream does not keep the 401's challenge: renew in the mode already known.
                guard try authenticator.renew(after: nil, scope: scope, used: authorization) else {
                    throw authenticator.failure(status: 401, what: "blob \(descriptor.digest) of \(reference)")
                }
                renewed = true
            } catch let error as DiskImportError where error.kind == .auth {
                throw authenticator.failure(status: 401, what: "blob \(descriptor.digest) of \(reference)")
            }
        }
    }

    // MARK: Requests

    /// `repository:NAME:pull`, the scope every request of a pull needs.
    static func pullScope(_ reference: RegistryReference) -> String { "repository:\(reference.repository):pull" }

    private func manifestURL(_ reference: RegistryReference) throws -> String {
        guard reference.registry == registry else {
            throw DiskImportError.usage("\(reference) is not on \(registry)")
        }
        return "\(try baseURL())/v2/\(reference.repository)/manifests/\(reference.manifestReference)"
    }

    /// One small request with authorization; a 401 renews it once (a new token, or credentials not sent yet).
    private func send(_ url: String, method: HTTPMethod, headers: [String], reference: RegistryReference, limit: Int) throws -> HTTPResponse {
        let scope = Self.pullScope(reference)
        var renewed = false
        while true {
            let authorization = try authenticator.authorization(scope: scope)
            let response = try http.fetch(url, method: method, headers: authorization.headers + headers,
                                          sendCredentials: authorization.sendCredentials, limit: limit)
            if response.head.status == 401, !renewed,
               try authenticator.renew(after: response.head, scope: scope, used: authorization) {
                renewed = true
                continue
            }
            return response
        }
    }

    /// The error for a non-200 answer, with the registry's own error code when it sent one.
    private func failure(_ response: HTTPResponse, reference: RegistryReference, what: String) -> DiskImportError {
        let status = response.head.status
        if status == 401 || status == 403 { return authenticator.failure(status: status, what: reference.description) }
        let codes = Self.errorCodes(response.body)
        switch status {
        case 404:
            return DiskImportError(.network, "not found (404): \(reference) (\(missing(reference, codes: codes)))")
        default:
            let detail = codes.isEmpty ? "" : " (\(codes.joined(separator: ", ")))"
            return DiskImportError(.network, "the registry answered \(status) for the \(what) of \(reference)\(detail)")
        }
    }

    /// Why a manifest is not there. The distribution registry answers MANIFEST_UNKNOWN for a tag of a repository
    /// that does not exist as for a missing tag, so the repository's tag list (`GET /v2/NAME/tags/list`, NAME_UNKNOWN
    /// when there is no such repository) tells which, and names a few tags that do exist.
    private func missing(_ reference: RegistryReference, codes: [String]) -> String {
        let what = reference.digest == nil ? "tag \(reference.tag ?? "latest")" : "digest"
        if codes.contains("NAME_UNKNOWN") { return "no repository \(reference.repository) on \(registry)" }
        guard let base = try? baseURL(),
              let response = try? send("\(base)/v2/\(reference.repository)/tags/list?n=100", method: .get, headers: [],
                                       reference: reference, limit: 1 << 20) else {
            return codes.contains("MANIFEST_UNKNOWN") ? "no such \(what)" : "no such image"
        }
        switch response.head.status {
        case 404:
            return "no repository \(reference.repository) on \(registry)"
        case 200:
            struct Tags: Decodable { var tags: [String]? }
            // Tags as the distribution spec allows them ([A-Za-z0-9_][A-Za-z0-9._-]*): nothing else reaches a terminal.
            let tags = ((try? JSONDecoder().decode(Tags.self, from: Data(response.body)))?.tags ?? []).filter { tag in
                !tag.isEmpty && tag.utf8.allSatisfy { c in
                    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "._-".utf8.contains(c)
                }
            }
            let shown = tags.prefix(8).map { String($0.prefix(64)) }.joined(separator: ", ")
            return "the repository has no \(what)" + (tags.isEmpty ? "; it has no tags" : "; its tags include \(shown)")
        default:
            return codes.contains("MANIFEST_UNKNOWN") ? "no such \(what)" : "no such image"
        }
    }

    /// The `code`s of a registry error body (`{"errors":[{"code":"MANIFEST_UNKNOWN",...}]}`), for messages.
    static func errorCodes(_ body: [UInt8]) -> [String] {
        struct Body: Decodable {
            struct Entry: Decodable { var code: String? }
            var errors: [Entry]?
        }
        let decoded = try? JSONDecoder().decode(Body.self, from: Data(body))
        return (decoded?.errors ?? []).compactMap(\.code).filter { code in
            code.count <= 40 && code.utf8.allSatisfy { ($0 >= 0x41 && $0 <= 0x5a) || $0 == 0x5f }
        }
    }
}
