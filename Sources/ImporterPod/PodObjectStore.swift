import DiskImportCore
import Fetch

/// The s3 and gcs sources of the pod: IMPORTER_ENDPOINT in CDI's forms, CDI's credentials, opened before the
/// import as CDI's data sources connect (pkg/importer/s3-datasource.go, gcs-datasource.go), so that a failure here
/// is CDI's "Unable to connect to s3 data source: …" (errorCannotConnectDataSource in cmd/cdi-importer/importer.go).
enum PodObjectStore {
    /// Finds the object. `network` carries the trusted CAs (IMPORTER_CERT_DIR, IMPORTER_PROXY_CERT_DIR) and the
    /// proxy; `environment` the AWS_* variables (CDI's SDK default chain when the Secret gives no keys) and
    /// STORAGE_EMULATOR_HOST.
    static func open(_ env: ImporterEnvironment, network: HTTPOptions, environment: [String: String]) throws -> ObjectStoreSource {
        var options = network
        options.headers = []   // IMPORTER_EXTRA_HEADER_* are for the http source: a signed request carries none
        do {
            switch env.source {
            case .s3:
                let location = try S3Location(cdiEndpoint: env.endpoint)
                let credentials = try S3Credentials.pair(accessKeyID: env.accessKeyID, secretAccessKey: env.secretKey)
                    ?? S3Credentials.fromEnvironment(environment)
                return try ObjectStoreSource(S3Object.open(location, credentials: credentials, options: options), purpose: .convert,
                                             prefersRangedReads: false)
            case .gcs:
                let location = try GCSLocation(cdiEndpoint: env.endpoint, environment: environment)
                let key = try env.googleCredentialsFile.map { try ServiceAccountKey(file: $0) }
                return try ObjectStoreSource(GCSObject.open(location, key: key, options: options), purpose: .convert,
                                             prefersRangedReads: false)
            default:
                throw DiskImportError.usage("source \(env.source.rawValue) is not an object store")
            }
        } catch let error as DiskImportError {
            throw DiskImportError(error.kind, "Unable to connect to \(env.source.rawValue) data source: \(error.message)")
        }
    }
}
