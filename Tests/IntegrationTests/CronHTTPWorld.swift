import Foundation
import Testing

/// One `diskimport cron` setup whose source is a file on the fixture nginx (HTTPS): a directory of its own under the
/// served scratch tree (`/scratch/cron-NAME-RANDOM/`, also reachable as `/scratch-noetag/…` without ETags and as
/// `/scratch-private/…` behind Basic auth), a `--secrets` directory with the CA as a ConfigMap (`files-ca/ca.crt`)
/// and the files credentials as a Secret (`files-creds`), a STORAGE directory and a config file.
struct CronHTTPWorld: CronDirectories {
    let http: HTTPFixture
    let name: String
    /// The served directory's name under www/scratch.
    let folder: String
    var directory: TemporaryDirectory { http.directory }

    init(_ name: String) throws {
        http = try HTTPFixture()
        self.name = name
        folder = "cron-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: try servedPath(""), withIntermediateDirectories: true)
        try writeSecret("files-creds", ["accessKeyId": try http.fixtures["FILES_USER"], "secretKey": try http.password])
        try FileManager.default.createDirectory(atPath: secrets + "/files-ca", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try http.fixtures["CA_FILE"], toPath: secrets + "/files-ca/ca.crt")
    }

    /// Where `file` lives on disk in the served tree.
    func servedPath(_ file: String) throws -> String { try http.fixtures["SCRATCH_WWW_DIR"] + "/" + folder + "/" + file }

    /// The URL path of `file` under `location` (scratch, scratch-noetag, scratch-private).
    func urlPath(_ file: String, location: String = "scratch") -> String { "/\(location)/\(folder)/\(file)" }

    func url(_ file: String, location: String = "scratch", port: String? = nil) throws -> String {
        try http.files(String(urlPath(file, location: location).dropFirst()), port: port)
    }

    /// Replaces `file` on the server whole (rename), with `modified` as its mtime: nginx's ETag and Last-Modified
    /// come from the mtime (in seconds) and the size.
    func serve(_ data: Data, as file: String, modified: Date) throws {
        let temporary = try servedPath(".\(file).tmp")
        try data.write(to: URL(fileURLWithPath: temporary))
        try FileManager.default.setAttributes([.modificationDate: modified, .posixPermissions: 0o644], ofItemAtPath: temporary)
        guard rename(temporary, try servedPath(file)) == 0 else { throw HarnessError("rename to \(file) failed") }
    }

    /// A DataImportCron with an http source, polling twice a day.
    func cronYAML(url: String, checksumsUrl: String? = nil, secretRef: String? = nil, importsToKeep: Int = 3) -> String {
        """
        apiVersion: cdi.kubevirt.io/v1beta1
        kind: DataImportCron
        metadata:
          name: \(cron)
          namespace: golden-images
        spec:
          schedule: "0 */12 * * *"
          managedDataSource: \(dataSource)
          importsToKeep: \(importsToKeep)
          template:
            spec:
              source:
                http:
                  url: \(url)
                  certConfigMap: files-ca
        \(secretRef.map { "          secretRef: \($0)" } ?? "")
        \(checksumsUrl.map { "          checksumsUrl: \($0)" } ?? "")
              storage:
                resources:
                  requests:
                    storage: 8Mi
        """
    }

    /// The volume an identity gets: `<ds>-<first 12 hex of sha256(identity)>`.
    func volume(_ identity: String) throws -> String {
        let sum = try Harness.run("sh", ["-c", "printf %s \"$1\" | sha256sum", "sh", identity])
        return "\(dataSource)-\(sum.stdout.prefix(12))"
    }

    /// One request in nginx's access log (the combined format).
    struct Request: CustomStringConvertible {
        var method: String
        var path: String
        var status: Int
        var bodyBytes: Int
        var description: String { "\(method) \(path) \(status) \(bodyBytes)" }
    }

    /// The requests nginx has logged for this world's folder, in order.
    func requests() throws -> [Request] {
        let text = try String(contentsOfFile: try http.fixtures["NGINX_ACCESS_LOG"], encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> Request? in
            // ... "METHOD PATH PROTOCOL" STATUS BYTES "referer" "agent"
            let quoted = line.split(separator: "\"", omittingEmptySubsequences: false)
            guard quoted.count >= 3 else { return nil }
            let request = quoted[1].split(separator: " ")
            let after = quoted[2].split(separator: " ")
            guard request.count >= 2, request[1].contains("/\(folder)/"), after.count >= 2,
                  let status = Int(after[0]), let bytes = Int(after[1]) else { return nil }
            return Request(method: String(request[0]), path: String(request[1]), status: status, bodyBytes: bytes)
        }
    }
}
