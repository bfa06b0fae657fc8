import DiskImportCore
import Fetch
import Testing
@testable import ImporterPod

@Suite struct ImporterEnvironmentTests {
    let http = ["IMPORTER_SOURCE": "http", "IMPORTER_ENDPOINT": "https://example.test/disk.qcow2.xz", "IMPORTER_CONTENTTYPE": "kubevirt"]

    func error(_ env: [String: String]) -> DiskImportError? {
        do {
            _ = try ImporterEnvironment(env)
            return nil
        } catch let e as DiskImportError {
            return e
        } catch {
            return DiskImportError(.usage, "unexpected \(error)")
        }
    }

    @Test func fullHTTPEnvironmentParses() throws {
        var env = http
        env["IMPORTER_IMAGE_SIZE"] = "10Gi"
        env["IMPORTER_ACCESS_KEY_ID"] = "alice"
        env["IMPORTER_SECRET_KEY"] = "s3cret"
        env["IMPORTER_CERT_DIR"] = "/certs"
        env["INSECURE_TLS"] = "false"
        env["PREALLOCATION"] = "True"
        env["FILESYSTEM_OVERHEAD"] = "0.055"
        env["IMPORTER_CHECKSUM"] = "SHA256:" + String(repeating: "AB", count: 32)
        env["IMPORTER_EXTRA_HEADER_10"] = "X-Ten: 10"
        env["IMPORTER_EXTRA_HEADER_2"] = "X-Two:two"
        env["OWNER_UID"] = "1234-abcd"
        let parsed = try ImporterEnvironment(env)
        #expect(parsed.source == .http)
        #expect(parsed.contentType == .kubevirt)
        #expect(parsed.imageSize == 10 << 30)
        #expect(parsed.credentials?.user == "alice" && parsed.credentials?.password == "s3cret")
        #expect(!"\(parsed.credentials!)".contains("s3cret"))
        #expect(parsed.certificateDirectory == "/certs")
        #expect(parsed.preallocation)
        #expect(!parsed.insecureTLS)
        #expect(parsed.filesystemOverhead.description == "0.055")
        #expect(parsed.checksum?.description == "sha256:" + String(repeating: "ab", count: 32))
        #expect(parsed.extraHeaders.map(\.line) == ["X-Two: two", "X-Ten: 10"])
        #expect(parsed.ownerUID == "1234-abcd")
    }

    @Test(arguments: ["1", "t", "T", "TRUE", "true", "True"]) func preallocationTrueSpellings(_ text: String) throws {
        var env = http
        env["PREALLOCATION"] = text
        #expect(try ImporterEnvironment(env).preallocation)
    }

    @Test(arguments: ["0", "f", "F", "FALSE", "false", "False", ""]) func preallocationFalseSpellings(_ text: String) throws {
        var env = http
        env["PREALLOCATION"] = text
        #expect(try !ImporterEnvironment(env).preallocation)
    }

    @Test(arguments: ["yes", "tRUE", "2", " true", "on"]) func badPreallocationIsCDIsError(_ text: String) {
        var env = http
        env["PREALLOCATION"] = text
        env["IMPORTER_SOURCE"] = "nonsense"  // PREALLOCATION is checked first, as in CDI
        #expect(error(env)?.message ==
                "the PREALLOCATION environment variable is with a wrong value \"\(text)\"; should be \"true\" or \"false\"")
    }

    @Test(arguments: ["s3", "gcs", "imageio", "vddk"]) func unsupportedSourcesAreRefused(_ source: String) {
        var env = http
        env["IMPORTER_SOURCE"] = source
        #expect(error(env)?.message == "source \(source) is not supported by diskimport (supported: http, registry, none)")
    }

    @Test(arguments: ["", "ftp", "HTTP", "upload"]) func unknownSourceIsCDIsMessage(_ source: String) {
        var env = http
        env["IMPORTER_SOURCE"] = source
        #expect(error(env)?.message == "Unknown data source: \(source)")
    }

    @Test func registryWithArchiveIsCDIsMessage() {
        let env = ["IMPORTER_SOURCE": "registry", "IMPORTER_ENDPOINT": "docker://r.test/disk:1", "IMPORTER_CONTENTTYPE": "archive"]
        #expect(error(env)?.message == "Unsupported content type archive when importing from registry")
    }

    @Test func unknownContentTypeIsRefused() {
        var env = http
        env["IMPORTER_CONTENTTYPE"] = "iso"
        #expect(error(env)?.message.contains("Unsupported content type iso") == true)
    }

    /// CDI's importer reads FILESYSTEM_OVERHEAD with strconv.ParseFloat and drops the error, so unset is 0; any
    /// spelling ParseFloat reads means the same float64.
    @Test func filesystemOverheadIsReadAsGoReadsIt() throws {
        #expect(try ImporterEnvironment(http).filesystemOverhead.value == 0)
        for (text, value) in [("0.055", 0.055), ("5.5e-2", 0.055), ("0.06", 0.06), ("1", 1.0), (".1", 0.1)] {
            var env = http
            env["FILESYSTEM_OVERHEAD"] = text
            #expect(try ImporterEnvironment(env).filesystemOverhead.value == value, "\(text)")
        }
        for text in ["abc", "1.5", "-0.1", " 0.06"] {
            var env = http
            env["FILESYSTEM_OVERHEAD"] = text
            #expect(throws: DiskImportError.self) { try ImporterEnvironment(env) }
        }
    }

    @Test func contentTypeDefaultsToKubevirt() throws {
        var env = http
        env["IMPORTER_CONTENTTYPE"] = nil
        #expect(try ImporterEnvironment(env).contentType == .kubevirt)
    }

    @Test func blankNeedsASize() throws {
        #expect(error(["IMPORTER_SOURCE": "none"])?.message.contains("IMPORTER_IMAGE_SIZE is required") == true)
        let blank = try ImporterEnvironment(["IMPORTER_SOURCE": "none", "IMPORTER_IMAGE_SIZE": "64Mi"])
        #expect(blank.source == .blank && blank.imageSize == 64 << 20)
    }

    @Test(arguments: ["1536000", "1G", "1.5Gi", "10Gi"]) func imageSizeQuantities(_ text: String) throws {
        var env = http
        env["IMPORTER_IMAGE_SIZE"] = text
        #expect(try ImporterEnvironment(env).imageSize == Quantity.bytes(text))
    }

    @Test func badImageSizeNamesTheVariable() {
        var env = http
        env["IMPORTER_IMAGE_SIZE"] = "ten gigs"
        #expect(error(env)?.message == "IMPORTER_IMAGE_SIZE \"ten gigs\" is not a Kubernetes quantity of bytes")
    }

    @Test func endpointMustMatchTheSourceAndErrorsHideCredentials() {
        var env = http
        env["IMPORTER_ENDPOINT"] = "ftp://user:pw@host/x"
        let message = error(env)?.message ?? ""
        #expect(message.contains("not an http:// or https:// URL"))
        #expect(!message.contains("pw"))
        let registry = ["IMPORTER_SOURCE": "registry", "IMPORTER_ENDPOINT": "quay.io/x:1"]
        #expect(error(registry)?.message.contains("not a docker:// image reference") == true)
    }

    @Test func credentialsNeedBothHalves() throws {
        var env = http
        env["IMPORTER_ACCESS_KEY_ID"] = "alice"
        #expect(try ImporterEnvironment(env).credentials == nil)
    }

    @Test func insecureTLSIsAGoBool() throws {
        var env = http
        env["INSECURE_TLS"] = "1"
        #expect(try ImporterEnvironment(env).insecureTLS)
        env["INSECURE_TLS"] = "maybe"
        #expect(error(env)?.message.contains("INSECURE_TLS") == true)
    }

    @Test(arguments: ["sha256:abc", "crc32:00ff00ff", "sha256", "md5:" + String(repeating: "g", count: 32)])
    func badChecksumsAreRefused(_ text: String) {
        var env = http
        env["IMPORTER_CHECKSUM"] = text
        #expect(error(env)?.message.hasPrefix("IMPORTER_CHECKSUM") == true)
    }

    @Test func badExtraHeadersNameTheVariableNotTheValue() {
        var env = http
        env["IMPORTER_EXTRA_HEADER_0"] = "Authorization Bearer sekrit"
        let message = error(env)?.message ?? ""
        #expect(message.contains("IMPORTER_EXTRA_HEADER_0"))
        #expect(!message.contains("sekrit"))
        env["IMPORTER_EXTRA_HEADER_0"] = "Bad Name: x"
        #expect(error(env)?.message.contains("not a valid HTTP header name") == true)
    }

    @Test func redactionDropsUserInfo() {
        #expect(Redaction.endpoint("https://u:p@h.test:8443/a@b") == "https://<redacted>@h.test:8443/a@b")
        #expect(Redaction.endpoint("https://h.test/a@b") == "https://h.test/a@b")
        #expect(Redaction.endpoint("docker://r.test/x:1") == "docker://r.test/x:1")
    }
}
