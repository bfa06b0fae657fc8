import DiskImportCore
import Foundation

/// One Cloud Storage object, found and described by the JSON API (size and generation), then read with one GET of
/// the XML API's object URL, as CDI's Go client reads it, on the streaming download (download ‖ decode ‖ write,
/// resumed after a cut with `Range`). Every request carries `x-goog-if-generation-match`, so the bytes after a
/// resume are of the same generation or the request fails.
///
/// With a service account key the requests carry its OAuth2 access token; without one they are anonymous (a public
/// object), as CDI's gcs source does without a Secret.
public final class GCSObject: Sendable {
    public let location: GCSLocation
    public let length: UInt64
    /// The object's generation: its version, fixed for its bytes.
    public let generation: String?
    let client: HTTPClient
    let signer: GCSSigner?

    public static func open(_ location: GCSLocation, key: ServiceAccountKey?, options: HTTPOptions) throws -> GCSObject {
        var options = options
        options.credentials = nil
        let client = try HTTPClient(options: options)
        let signer = key.map { GCSSigner(tokens: AccessTokenSource(key: $0, client: client)) }
        var request = HTTPRequest(url: location.metadataURL)
        request.signer = signer
        request.sendCredentials = false
        var response = try client.send(request, limit: 1 << 20)
        if response.head.status == 401, let signer {
            signer.tokens.invalidate()   // a token the server no longer takes: one new one
            response = try client.send(request, limit: 1 << 20)
        }
        guard response.head.status == 200 else {
            throw GCSErrorDocument(response.body).error(status: response.head.status, location: location, authenticated: signer != nil)
        }
        struct Metadata: Decodable {
            var size: String?
            var generation: String?
        }
        guard let metadata = try? JSONDecoder().decode(Metadata.self, from: Data(response.body)),
              let size = metadata.size.flatMap({ UInt64($0) }) else {
            throw DiskImportError(.network, "GCS sent no object size for \(location.displayName)")
        }
        return GCSObject(location: location, length: size, generation: metadata.generation, client: client, signer: signer)
    }

    private init(location: GCSLocation, length: UInt64, generation: String?, client: HTTPClient, signer: GCSSigner?) {
        self.location = location
        self.length = length
        self.generation = generation
        self.client = client
        self.signer = signer
    }

    /// The GET every attempt of a download repeats, pinned to the generation found.
    var getRequest: HTTPRequest {
        var request = HTTPRequest.objectGet(location.downloadURL, signer: signer)
        if let generation { request.headers = ["x-goog-if-generation-match: \(generation)"] }
        return request
    }

    /// The object's bytes from the start, downloaded on their own thread into `bufferCount` buffers of `bufferSize`.
    public func stream(bufferCount: Int = 8, bufferSize: Int = 512 << 10) throws -> HTTPStream {
        try HTTPStream(client: client, request: getRequest, bufferCount: bufferCount, bufferSize: bufferSize)
    }
}
