import DiskImportCore

/// A tus 1.0 upload (tus.io/protocols/resumable-upload): create it (POST with Upload-Length), PATCH the file from
/// offset 0; when a connection breaks, ask the server for its offset (HEAD) and PATCH the rest from there. The
/// server keeps every byte it accepted, so nothing is sent twice and nothing is lost.
struct TusUpload {
    let client: UploadClient
    let url: String

    static let version = "1.0.0"

    func run() throws -> UploadSummary {
        let location = try create()
        let length = client.fileLength
        var offset: UInt64 = 0
        var interruptions = 0
        var failuresInARow = 0
        while true {
            client.rewindProgress(to: offset)
            do {
                let response = try patch(location, from: offset)
                switch response.status {
                case 204:
                    guard let reported = response.header("Upload-Offset").flatMap({ UInt64($0) }) else {
                        throw DiskImportError(.network, "the server's answer to PATCH has no Upload-Offset")
                    }
                    if reported == length {
                        return UploadSummary(url: location, bytes: length, resumable: true, interruptions: interruptions)
                    }
                    offset = reported
                case 409:
                    // Not the server's offset (another connection of ours was still feeding it): ask again.
                    offset = try currentOffset(location)
                default:
                    throw UploadClient.refusal(response, url: location)
                }
            } catch let failure as UploadTransportFailure {
                guard failure.failure.retryable else { throw failure.failure.error }
                interruptions += 1
                let before = offset
                offset = try resumeOffset(location, after: failure, failuresInARow: &failuresInARow)
                if offset > before { failuresInARow = 0 }
                client.log.warning("upload interrupted (\(failure.failure.error.message)): resuming at byte \(offset) of \(length)")
            }
        }
    }

    /// POST to the endpoint: the upload's length and metadata (file name, and the whole image's checksum).
    private func create() throws -> String {
        var metadata = "filename \(Base64.encode(Array(client.fileName.utf8)))"
        if let checksum = client.checksum { metadata += ",checksum \(Base64.encode(Array(checksum.description.utf8)))" }
        let headers = client.authorization + [
            "Tus-Resumable: \(Self.version)", "Upload-Length: \(client.fileLength)", "Upload-Metadata: \(metadata)",
        ]
        let response = try sendRetrying(HTTPUploadRequest(method: .post, url: url, headers: headers))
        guard response.status == 201, let location = response.header("Location"), !location.isEmpty else {
            throw UploadClient.refusal(response, url: url)
        }
        return Self.resolve(location, against: url)
    }

    /// PATCH the file from `offset` to its end.
    private func patch(_ location: String, from offset: UInt64) throws -> HTTPUploadResponse {
        let headers = client.authorization + [
            "Tus-Resumable: \(Self.version)", "Upload-Offset: \(offset)", "Content-Type: application/offset+octet-stream",
        ]
        let progress = client.transferProgress
        let request = HTTPUploadRequest(method: .patch, url: location, headers: headers,
                                        body: (client.fileDescriptor, offset, client.fileLength - offset))
        var reported: UInt64 = 0
        return try client.send(request) { sent in
            progress.addSourceBytes(sent - reported)
            reported = sent
        }
    }

    /// The offset to go on from after a broken PATCH, asking the server with back-off; throws after `retries`
    /// failures in a row.
    private func resumeOffset(_ location: String, after failure: UploadTransportFailure, failuresInARow: inout Int) throws -> UInt64 {
        var lastError = failure.failure.error
        while true {
            failuresInARow += 1
            if failuresInARow > client.retries {
                throw DiskImportError(lastError.kind, "upload failed after \(client.retries) reconnects without progress: \(lastError.message)")
            }
            Monotonic.sleep(client.backoff(attempt: failuresInARow))
            do {
                return try currentOffset(location)
            } catch let failure as UploadTransportFailure where failure.failure.retryable {
                lastError = failure.failure.error
            }
        }
    }

    /// HEAD: the server's Upload-Offset. A server that gave the upload up answers 410; its reason comes with a
    /// PATCH (the upload server answers one with why the upload failed).
    private func currentOffset(_ location: String) throws -> UInt64 {
        let headers = client.authorization + ["Tus-Resumable: \(Self.version)"]
        let response = try client.send(HTTPUploadRequest(method: .head, url: location, headers: headers))
        if response.status == 200, let offset = response.header("Upload-Offset").flatMap({ UInt64($0) }) {
            return offset
        }
        if response.status == 410 || response.status == 404 {
            let reason = try? patch(location, from: 0)
            if let reason, reason.status >= 400 { throw UploadClient.refusal(reason, url: location) }
        }
        throw UploadClient.refusal(response, url: location)
    }

    /// A request without a body, tried again after a dropped connection (with back-off, `retries` times).
    private func sendRetrying(_ request: HTTPUploadRequest) throws -> HTTPUploadResponse {
        var attempt = 0
        while true {
            do {
                return try client.send(request)
            } catch let failure as UploadTransportFailure where failure.failure.retryable && attempt < client.retries {
                attempt += 1
                Monotonic.sleep(client.backoff(attempt: attempt))
            } catch let failure as UploadTransportFailure {
                throw failure.failure.error
            }
        }
    }

    /// `location` (absolute, an absolute path, or relative) as a URL.
    static func resolve(_ location: String, against base: String) -> String {
        if location.contains("://") { return location }
        guard let schemeEnd = base.range(of: "://") else { return location }
        let afterScheme = base[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
        let origin = String(base[..<authorityEnd])
        if location.hasPrefix("/") { return origin + location }
        let path = base[authorityEnd...].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let directory = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "/"
        return origin + directory + location
    }
}
