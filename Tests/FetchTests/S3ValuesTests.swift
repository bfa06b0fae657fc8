import DiskImportCore
import Testing
@testable import Fetch

/// Parsing and messages of the S3 source, without a server.
struct S3ValuesTests {
    /// CDI's own table (pkg/importer/s3-datasource_test.go, "extractRegion should derive a valid region").
    @Test(arguments: [
        ("minio:9000", "minio"), ("minio-service.default:9000", "minio-service"), ("s3.us-east-1.amazonaws.com", "us-east-1"),
        ("127.0.0.1:9000", "127"), ("localhost:9000", "localhost"), ("minio", "minio"), ("[::1]:9000", "us-east-1"),
        ("::1", "us-east-1"), ("minio_svc:9000", "us-east-1"), ("", "us-east-1"), ("s3.eu-west-3.amazonaws.com:443", "eu-west-3"),
    ])
    func regionIsDerivedAsCDIDerivesIt(host: String, region: String) {
        #expect(S3Region.derived(fromHost: host) == region)
    }

    @Test func cdiEndpointsArePathStyleWithTheirSchemeAndDecodedKey() throws {
        let plain = try S3Location(cdiEndpoint: "http://minio:9000/bucket-1/folder/a%20b%C3%A9.qcow2")
        #expect(plain == S3Location(endpoint: "http://minio:9000", bucket: "bucket-1", key: "folder/a bé.qcow2", region: "minio"))
        #expect(plain.objectURL == "http://minio:9000/bucket-1/folder/a%20b%C3%A9.qcow2")
        let aws = try S3Location(cdiEndpoint: "https://s3.eu-west-1.amazonaws.com/disks/disk.img")
        #expect(aws.region == "eu-west-1" && aws.endpoint == "https://s3.eu-west-1.amazonaws.com")
        // Any scheme but http means TLS, as in CDI (v1 only disabled TLS for http).
        #expect(try S3Location(cdiEndpoint: "s3://host/b/k").endpoint == "https://host")
        #expect(throws: DiskImportError.self) { try S3Location(cdiEndpoint: "http://host/bucket-only") }
        #expect(throws: DiskImportError.self) { try S3Location(cdiEndpoint: "http://host/b/bad%zz") }
    }

    @Test func cliURLsTakeTheKeyLiterallyOnAWSOrTheGivenEndpoint() throws {
        let aws = try S3Location(s3URL: "s3://disks/a b/c%20d.raw", endpoint: nil, region: "eu-central-1")
        #expect(aws.endpoint == "https://s3.eu-central-1.amazonaws.com" && aws.key == "a b/c%20d.raw")
        #expect(aws.objectURL == "https://s3.eu-central-1.amazonaws.com/disks/a%20b/c%2520d.raw")
        let minio = try S3Location(s3URL: "s3://disks/x", endpoint: "http://127.0.0.1:9000/", region: nil)
        #expect(minio.endpoint == "http://127.0.0.1:9000" && minio.region == "127")
        #expect(throws: DiskImportError.self) { try S3Location(s3URL: "s3://disks", endpoint: nil, region: nil) }
        #expect(throws: DiskImportError.self) { try S3Location(s3URL: "s3://d/k", endpoint: "http://h/path", region: nil) }
    }

    @Test func theRegionRedirectMovesAnAWSEndpointButNotACustomOne() {
        let aws = S3Location(endpoint: "https://s3.us-east-1.amazonaws.com", bucket: "b", key: "k", region: "us-east-1")
        #expect(aws.redirected(to: "ap-south-1").endpoint == "https://s3.ap-south-1.amazonaws.com")
        let custom = S3Location(endpoint: "http://127.0.0.1:9000", bucket: "b", key: "k", region: "127")
        #expect(custom.redirected(to: "eu-west-1") == S3Location(endpoint: "http://127.0.0.1:9000", bucket: "b", key: "k", region: "eu-west-1"))
    }

    @Test func errorDocumentsGiveOneLineWithoutSigningMaterial() throws {
        let body = Array("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match &amp;
            more</Message><StringToSign>AWS4-HMAC-SHA256 secret-ish</StringToSign><SignatureProvided>abc123</SignatureProvided></Error>
            """.utf8)
        let document = try #require(S3ErrorDocument(body))
        #expect(document.code == "SignatureDoesNotMatch")
        let location = S3Location(endpoint: "http://h", bucket: "b", key: "k", region: "r")
        let error = document.error(status: 403, location: location)
        #expect(error.kind == .auth && !error.message.contains("\n") && !error.message.contains("abc123") && !error.message.contains("StringToSign"))
        #expect(error.message.contains("does not match & more"))
        #expect(S3ErrorDocument(Array("<html>bad gateway</html>".utf8)) == nil)
        let region = try #require(S3ErrorDocument(Array("<Error><Code>AuthorizationHeaderMalformed</Code><Message>m</Message><Region>eu-west-1</Region></Error>".utf8)))
        #expect(region.region == "eu-west-1")
    }

    @Test func credentialsComeInPairsAndNeverPrint() throws {
        #expect(try S3Credentials.pair(accessKeyID: nil, secretAccessKey: "") == nil)
        #expect(throws: DiskImportError.usage("s3 access key and secret key must be set together or not at all")) {
            try S3Credentials.pair(accessKeyID: "AKIA", secretAccessKey: nil)
        }
        let credentials = try #require(try S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "AKIAXYZ", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "tok"]))
        #expect(credentials.sessionToken == "tok")
        #expect(!"\(credentials)".contains("s3cr3t") && !"\(credentials)".contains("AKIAXYZ") && !"\(credentials)".contains("tok"))
    }
}

/// Parsing of the GCS source, without a server.
struct GCSValuesTests {
    @Test func cdiEndpointFormsAreSplitAsCDISplitsThem() throws {
        let google = try GCSLocation(cdiEndpoint: "gs://bucket/dir/disk.img", environment: [:])
        #expect(google == GCSLocation(endpoint: "https://storage.googleapis.com", bucket: "bucket", object: "dir/disk.img"))
        let custom = try GCSLocation(cdiEndpoint: "https://storage.example:8443/bucket/a b/disk.img", environment: [:])
        #expect(custom == GCSLocation(endpoint: "https://storage.example:8443", bucket: "bucket", object: "a b/disk.img"))
        #expect(custom.downloadURL == "https://storage.example:8443/bucket/a%20b/disk.img")
        #expect(custom.metadataURL == "https://storage.example:8443/storage/v1/b/bucket/o/a%20b%2Fdisk.img")
        #expect(throws: DiskImportError.self) { try GCSLocation(cdiEndpoint: "https://host/bucket", environment: [:]) }
    }

    @Test func theEmulatorVariableMovesGsURLs() throws {
        #expect(try GCSLocation.endpoint(override: nil, environment: ["STORAGE_EMULATOR_HOST": "127.0.0.1:4443"]) == "http://127.0.0.1:4443")
        #expect(try GCSLocation.endpoint(override: "https://gcs.local/", environment: ["STORAGE_EMULATOR_HOST": "x:1"]) == "https://gcs.local")
        #expect(try GCSLocation.endpoint(override: nil, environment: [:]) == GCSLocation.googleEndpoint)
    }
}
