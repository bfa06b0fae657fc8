import DiskImportCore

/// One S3 object, found and described: its length and ETag from a signed HEAD, after following S3's region
/// redirect once. `stream()` then reads it with one GetObject, as CDI's importer does, on the streaming download
/// (download ‖ decode ‖ write, resumed after a cut with `Range` and `If-Match` on the ETag).
public final class S3Object: Sendable {
    public let location: S3Location
    /// The object's length (Content-Length of the HEAD).
    public let length: UInt64
    public let etag: String?
    let client: HTTPClient
    let signer: S3Signer?

    /// Finds the object. `options` gives trust, proxy and retry settings (its Basic credentials are never used:
    /// S3 requests are signed with `credentials`, or sent anonymously without them).
    public static func open(_ location: S3Location, credentials: S3Credentials?, options: HTTPOptions) throws -> S3Object {
        var options = options
        options.credentials = nil
        let client = try HTTPClient(options: options)
        var location = location
        var redirected = false
        while true {
            let signer = credentials.map { S3Signer(credentials: $0, region: location.region) }
            var head = HTTPRequest(url: location.objectURL)
            head.method = .head
            head.signer = signer
            head.sendCredentials = false
            let answer = try client.send(head, limit: 0)
            if (200..<300).contains(answer.head.status) {
                guard let length = answer.head.contentLength else {
                    throw DiskImportError(.network, "S3 sent no Content-Length for \(location.displayName)")
                }
                return S3Object(location: location, length: length, etag: answer.head.strongETag, client: client, signer: signer)
            }
            // A HEAD has no body: the error document comes from a GET of one byte (a success there is a race with an
            // object being written; report the HEAD's status then).
            var probe = HTTPRequest(url: location.objectURL)
            probe.range = (0, 0)
            probe.signer = signer
            probe.sendCredentials = false
            let document = try S3ErrorDocument(client.send(probe, limit: 64 << 10).body)
            let region = answer.head["x-amz-bucket-region"] ?? document?.region
            if !redirected, let region, region != location.region, S3Region.isDNSName(Substring(region)) {
                client.logger.info("\(location.displayName) is in region \(region), not \(location.region): signing for \(region)")
                location = location.redirected(to: region)
                redirected = true
                continue
            }
            throw document?.error(status: answer.head.status, location: location)
                ?? S3ErrorDocument.error(status: answer.head.status, location: location)
        }
    }

    private init(location: S3Location, length: UInt64, etag: String?, client: HTTPClient, signer: S3Signer?) {
        self.location = location
        self.length = length
        self.etag = etag
        self.client = client
        self.signer = signer
    }

    /// The signed GetObject every attempt of a download repeats (ranged after a cut).
    var getRequest: HTTPRequest {
        var request = HTTPRequest.objectGet(location.objectURL, signer: signer)
        request.ifMatch = etag
        return request
    }

    /// The object's bytes from the start, downloaded on their own thread into `bufferCount` buffers of `bufferSize`.
    public func stream(bufferCount: Int = 8, bufferSize: Int = 512 << 10) throws -> HTTPStream {
        try HTTPStream(client: client, request: getRequest, bufferCount: bufferCount, bufferSize: bufferSize)
    }
}
