import DiskImportCore
import Foundation
import Testing
@testable import Fetch

/// The moto and gcp-storage-emulator fixtures (scripts/fixtures/start-objstore), for library-level tests.
enum ObjectFixtures {
    static func value(_ key: String) throws -> String {
        guard let value = FetchFixtures.values?[key] else { throw DiskImportError.usage("fixtures.env has no \(key)") }
        return value
    }

    static func secret(_ key: String) throws -> String {
        try String(contentsOfFile: try value(key), encoding: .utf8)
    }

    static func options() throws -> HTTPOptions {
        var options = HTTPOptions()
        options.caFiles = [try value("CA_FILE")]
        options.retryDelay = 0.05
        return options
    }

    static func reader() throws -> S3Credentials {
        S3Credentials(accessKeyID: try secret("S3_ACCESS_KEY_FILE"), secretAccessKey: try secret("S3_SECRET_KEY_FILE"))
    }

    static func s3(_ key: String, bucket: String = "disks", https: Bool = false, region: String? = nil) throws -> S3Location {
        let endpoint = https ? "https://127.0.0.1:\(try value("S3_HTTPS_PORT"))" : "http://127.0.0.1:\(try value("S3_HTTP_PORT"))"
        return try S3Location(s3URL: "s3://\(bucket)/\(key)", endpoint: endpoint, region: region)
    }

    static func gcs(_ object: String, gated: Bool) throws -> GCSLocation {
        let endpoint = gated ? "https://127.0.0.1:\(try value("GCS_HTTPS_PORT"))" : "http://127.0.0.1:\(try value("GCS_HTTP_PORT"))"
        return GCSLocation(endpoint: endpoint, bucket: "disks", object: object)
    }

    static func served(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: try value("WWW_DIR") + "/" + name))
    }

    static func readAll(_ stream: ByteStream) throws -> Data {
        var received = Data()
        var chunk = [UInt8](repeating: 0, count: 100_000)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try stream.read(into: $0) }
            if n == 0 { return received }
            received.append(contentsOf: chunk[..<n])
        }
    }

    /// JSON lines of a fixture's request log.
    static func log(_ key: String) throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: try value(key), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

@Suite(.enabled(if: FetchFixtures.available, "needs DISKIMPORT_FIXTURES (scripts/test starts the servers)"))
struct S3ObjectTests {
    @Test func aSignedGetObjectStreamsTheObjectOverHTTPAndHTTPS() throws {
        for https in [false, true] {
            let object = try S3Object.open(ObjectFixtures.s3("disk.qcow2.xz", https: https), credentials: ObjectFixtures.reader(),
                                           options: ObjectFixtures.options())
            let expected = try ObjectFixtures.served("disk.qcow2.xz")
            #expect(object.length == UInt64(expected.count) && object.etag != nil)
            #expect(try ObjectFixtures.readAll(object.stream(bufferCount: 2, bufferSize: 65_536)) == expected)
        }
    }

    @Test func aKeyWithSpacesAndUnicodeIsSignedAsS3CanonicalisesIt() throws {
        let key = try ObjectFixtures.value("S3_ODD_KEY")
        let object = try S3Object.open(ObjectFixtures.s3(key), credentials: ObjectFixtures.reader(), options: ObjectFixtures.options())
        #expect(try ObjectFixtures.readAll(object.stream()) == ObjectFixtures.served("disk.qcow2"))
    }

    @Test func aSessionTokenIsSentAndChecked() throws {
        var session = S3Credentials(accessKeyID: try ObjectFixtures.secret("S3_SESSION_ACCESS_KEY_FILE"),
                                    secretAccessKey: try ObjectFixtures.secret("S3_SESSION_SECRET_KEY_FILE"),
                                    sessionToken: try ObjectFixtures.secret("S3_SESSION_TOKEN_FILE"))
        let object = try S3Object.open(ObjectFixtures.s3("disk.raw"), credentials: session, options: ObjectFixtures.options())
        #expect(try ObjectFixtures.readAll(object.stream()) == ObjectFixtures.served("disk.raw"))
        session.sessionToken = nil
        #expect(throws: DiskImportError.self) { try S3Object.open(ObjectFixtures.s3("disk.raw"), credentials: session, options: ObjectFixtures.options()) }
    }

    /// Each of S3's refusals is one line that names it, and none carries the secret.
    @Test func refusalsNameTheirCause() throws {
        let reader = try ObjectFixtures.reader()
        let wrongSecret = S3Credentials(accessKeyID: reader.accessKeyID, secretAccessKey: reader.secretAccessKey + "x")
        let nobody = S3Credentials(accessKeyID: try ObjectFixtures.secret("S3_NOBODY_ACCESS_KEY_FILE"),
                                   secretAccessKey: try ObjectFixtures.secret("S3_NOBODY_SECRET_KEY_FILE"))
        let expired = S3Credentials(accessKeyID: try ObjectFixtures.secret("S3_EXPIRED_ACCESS_KEY_FILE"),
                                    secretAccessKey: try ObjectFixtures.secret("S3_EXPIRED_SECRET_KEY_FILE"),
                                    sessionToken: try ObjectFixtures.secret("S3_EXPIRED_TOKEN_FILE"))
        let cases: [(S3Location, S3Credentials?, String)] = [
            (try ObjectFixtures.s3("disk.raw"), wrongSecret, "SignatureDoesNotMatch"),
            (try ObjectFixtures.s3("disk.raw"), nobody, "AccessDenied"),
            (try ObjectFixtures.s3("disk.raw"), nil, "is denied"),
            (try ObjectFixtures.s3("missing.raw"), reader, "NoSuchKey"),
            (try ObjectFixtures.s3("disk.raw", bucket: "no-such-bucket"), reader, "NoSuchBucket"),
            (try ObjectFixtures.s3("disk.raw"), expired, "ExpiredToken"),
        ]
        for (location, credentials, expected) in cases {
            do {
                _ = try S3Object.open(location, credentials: credentials, options: ObjectFixtures.options())
                Issue.record("\(location.displayName) opened; expected \(expected)")
            } catch let error as DiskImportError {
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(!error.message.contains("\n") && !error.message.contains(reader.secretAccessKey))
            }
        }
    }

    /// A bucket in eu-west-1 reached with a request signed for us-east-1: S3's AuthorizationHeaderMalformed names
    /// the region, and the request is signed again for it, once.
    @Test func theRegionRedirectIsFollowedOnce() throws {
        let location = try ObjectFixtures.s3("disk.qcow2", bucket: "disks-eu", region: "us-east-1")
        let object = try S3Object.open(location, credentials: ObjectFixtures.reader(), options: ObjectFixtures.options())
        #expect(object.location.region == "eu-west-1")
        #expect(try ObjectFixtures.readAll(object.stream()) == ObjectFixtures.served("disk.qcow2"))
    }
}

@Suite(.enabled(if: FetchFixtures.available, "needs DISKIMPORT_FIXTURES (scripts/test starts the servers)"))
struct GCSObjectTests {
    @Test func anAnonymousReadOfAPublicObject() throws {
        let object = try GCSObject.open(ObjectFixtures.gcs("disk.qcow2.xz", gated: false), key: nil, options: ObjectFixtures.options())
        #expect(object.length == UInt64(try ObjectFixtures.served("disk.qcow2.xz").count))
        #expect(try ObjectFixtures.readAll(object.stream()) == ObjectFixtures.served("disk.qcow2.xz"))
    }

    /// The service account's assertion is verified by the gate's token endpoint, and every read carries the token it
    /// issued (the gate refuses any other).
    @Test func aServiceAccountGetsATokenAndSendsIt() throws {
        let key = try ServiceAccountKey(file: ObjectFixtures.value("GCS_KEY_FILE"))
        let tokensBefore = try ObjectFixtures.log("GCS_LOG").filter { $0["kind"] as? String == "token" && $0["ok"] as? Bool == true }.count
        let object = try GCSObject.open(ObjectFixtures.gcs(ObjectFixtures.value("S3_ODD_KEY"), gated: true), key: key, options: ObjectFixtures.options())
        #expect(try ObjectFixtures.readAll(object.stream()) == ObjectFixtures.served("disk.qcow2"))
        let log = try ObjectFixtures.log("GCS_LOG")
        #expect(log.filter { $0["kind"] as? String == "token" && $0["ok"] as? Bool == true }.count > tokensBefore)
        #expect(!"\(key)".contains("PRIVATE KEY"))
    }

    @Test func refusalsNameTheirCause() throws {
        #expect(throws: DiskImportError.self) { try GCSObject.open(ObjectFixtures.gcs("disk.raw", gated: true), key: nil, options: ObjectFixtures.options()) }
        do {
            _ = try GCSObject.open(ObjectFixtures.gcs("disk.raw", gated: true), key: nil, options: ObjectFixtures.options())
        } catch let error as DiskImportError {
            #expect(error.message.contains("not public") && error.message.contains("401"))
        }
        do {
            let unknown = try ServiceAccountKey(file: ObjectFixtures.value("GCS_UNKNOWN_KEY_FILE"))
            _ = try GCSObject.open(ObjectFixtures.gcs("disk.raw", gated: true), key: unknown, options: ObjectFixtures.options())
            Issue.record("an unknown key got a token")
        } catch let error as DiskImportError {
            #expect(error.message.contains("refused") && error.message.contains("invalid_grant"), "\(error.message)")
        }
        do {
            _ = try GCSObject.open(ObjectFixtures.gcs("missing.raw", gated: false), key: nil, options: ObjectFixtures.options())
            Issue.record("a missing object opened")
        } catch let error as DiskImportError {
            #expect(error.message.contains("does not exist") && error.message.contains("404"), "\(error.message)")
        }
    }
}
