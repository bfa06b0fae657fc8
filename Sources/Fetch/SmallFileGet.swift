import DiskImportCore

extension HTTPClient {
    /// `GET url` of a small file (a checksums list, say): its body when the final status is 2xx, else the error
    /// `TransferFailure.status` names for that status (401/403 `.auth`, 404 "not found", …). At most `limit`
    /// bytes are held in memory.
    public func getSmallFile(_ url: String, limit: Int = 1 << 20) throws -> [UInt8] {
        let response = try fetch(url, limit: limit)
        guard (200..<300).contains(response.head.status) else {
            throw TransferFailure.status(response.head.status, url: url).error
        }
        return response.body
    }
}
