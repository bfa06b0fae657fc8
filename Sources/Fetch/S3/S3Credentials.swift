import DiskImportCore

/// An S3 key pair and, for temporary credentials, the session token. `description` shows none of them.
public struct S3Credentials: Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "S3 credentials (hidden)" }

    /// The key pair as CDI takes it (IMPORTER_ACCESS_KEY_ID / IMPORTER_SECRET_KEY): both or neither, else CDI's
    /// "must be set together" (pkg/importer/s3-datasource.go, getS3Client). Neither gives nil: the caller then
    /// looks in AWS's environment variables, as the SDK's default chain does, and else goes anonymous.
    public static func pair(accessKeyID: String?, secretAccessKey: String?, sessionToken: String? = nil) throws -> S3Credentials? {
        let id = accessKeyID ?? "", secret = secretAccessKey ?? ""
        if id.isEmpty && secret.isEmpty { return nil }
        guard !id.isEmpty, !secret.isEmpty else {
            throw DiskImportError.usage("s3 access key and secret key must be set together or not at all")
        }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: sessionToken.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// AWS's variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
    public static func fromEnvironment(_ environment: [String: String]) throws -> S3Credentials? {
        try pair(accessKeyID: environment["AWS_ACCESS_KEY_ID"], secretAccessKey: environment["AWS_SECRET_ACCESS_KEY"],
                 sessionToken: environment["AWS_SESSION_TOKEN"])
    }

    /// `--access-key-file` and `--secret-key-file` (mounted Secrets; one trailing newline dropped), with an optional
    /// session token from the environment.
    public static func fromFiles(accessKeyFile: String, secretKeyFile: String, sessionToken: String?) throws -> S3Credentials {
        let id = try Self.secretFile(accessKeyFile, what: "access key file")
        let secret = try Self.secretFile(secretKeyFile, what: "secret key file")
        guard let credentials = try pair(accessKeyID: id, secretAccessKey: secret, sessionToken: sessionToken) else {
            throw DiskImportError.usage("the access key and secret key files are empty")
        }
        return credentials
    }

    /// A secret's text from a file, one trailing newline dropped; `what` names it in errors.
    public static func secretFile(_ path: String, what: String) throws -> String {
        var bytes = try SmallFile.read(path, limit: 64 << 10, what: what)
        while let last = bytes.last, last == 0x0a || last == 0x0d { bytes.removeLast() }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw DiskImportError.usage("\(what) \(path) is not UTF-8 text") }
        return text
    }
}
