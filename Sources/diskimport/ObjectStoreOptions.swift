import ArgumentParser
import DiskImportCore
import Fetch
import Foundation

/// Flags for s3:// and gs:// sources, shared by convert and info. Secrets come from files or the environment,
/// never from the command line, following AWS's and Google's own conventions.
struct ObjectStoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("An S3-compatible endpoint for s3:// sources (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS).", valueName: "url"))
    var s3Endpoint: String?

    @Option(help: ArgumentHelp("The S3 signing region (default: AWS_REGION, AWS_DEFAULT_REGION, else derived from the endpoint).", valueName: "region"))
    var region: String?

    @Option(help: ArgumentHelp("A file holding the S3 access key id (default: AWS_ACCESS_KEY_ID).", valueName: "file"))
    var accessKeyFile: String?

    @Option(help: ArgumentHelp("A file holding the S3 secret access key (default: AWS_SECRET_ACCESS_KEY).", valueName: "file"))
    var secretKeyFile: String?

    @Option(help: ArgumentHelp("A file holding an S3 session token for temporary credentials (default: AWS_SESSION_TOKEN).", valueName: "file"))
    var sessionTokenFile: String?

    @Option(help: ArgumentHelp("A GCS service account key (JSON) for gs:// sources (default: GOOGLE_APPLICATION_CREDENTIALS, else anonymous).", valueName: "file"))
    var credentialsFile: String?

    @Option(help: ArgumentHelp("A GCS endpoint for gs:// sources (default: STORAGE_EMULATOR_HOST, else Google's).", valueName: "url"))
    var gcsEndpoint: String?

    /// What these flags and the environment say.
    func access(environment: [String: String] = Self.processEnvironment) throws -> ObjectStoreAccess {
        func variable(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var access = ObjectStoreAccess()
        access.s3Endpoint = s3Endpoint ?? variable("AWS_ENDPOINT_URL_S3") ?? variable("AWS_ENDPOINT_URL")
        access.region = region ?? variable("AWS_REGION") ?? variable("AWS_DEFAULT_REGION")
        let sessionToken = try sessionTokenFile.map { try S3Credentials.secretFile($0, what: "session token file") }
        switch (accessKeyFile, secretKeyFile) {
        case (let id?, let secret?):
            access.s3Credentials = try S3Credentials.fromFiles(accessKeyFile: id, secretKeyFile: secret, sessionToken: sessionToken)
        case (nil, nil):
            access.s3Credentials = try S3Credentials.fromEnvironment(environment)
            if let sessionToken { access.s3Credentials?.sessionToken = sessionToken }
        default:
            throw DiskImportError.usage("--access-key-file and --secret-key-file go together")
        }
        access.gcsEndpoint = try GCSLocation.endpoint(override: gcsEndpoint, environment: environment)
        if let file = credentialsFile ?? variable("GOOGLE_APPLICATION_CREDENTIALS") {
            access.gcsKey = try ServiceAccountKey(file: file)
        }
        return access
    }

    /// `options` with what these flags and the environment say about object stores, when `source` is an s3:// or
    /// gs:// object (`SourceOpener` reads them there); unchanged for any other source, so that an unrelated
    /// GOOGLE_APPLICATION_CREDENTIALS is never read.
    func adding(to options: HTTPOptions, for source: String) throws -> HTTPOptions {
        switch SourceLocation(source) {
        case .s3, .gcs:
            var options = options
            options.objectStore = try access()
            return options
        default:
            return options
        }
    }

    static var processEnvironment: [String: String] { ProcessInfo.processInfo.environment }
}
