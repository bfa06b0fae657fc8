import DiskImportCore
import NIOHTTP1
import NIOSSL
import Testing
@testable import UploadServer

struct ProtocolValuesTests {
    @Test func base64RoundTripsAndRejectsJunk() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("sha256:ab".utf8)) == "c2hhMjU2OmFi")
        #expect(Base64.decode("c2hhMjU2OmFi").map { String(decoding: $0, as: UTF8.self) } == "sha256:ab")
        #expect(Base64.decode("abc") == nil)
        #expect(Base64.decode("ab=c") == nil)
        #expect(Base64.decode("a===") == nil)
        #expect(Base64.decode("ab!c") == nil)
    }

    @Test func routesFollowCDIsPathLists() {
        #expect(UploadRoute(target: "/healthz") == .healthz)
        #expect(UploadRoute(target: "/v1beta1/upload") == .upload(UploadKind()))
        #expect(UploadRoute(target: "/v1alpha1/upload-async?x=1") == .upload(UploadKind(async: true)))
        #expect(UploadRoute(target: "/v1beta1/upload-form-async") == .upload(UploadKind(async: true, form: true)))
        #expect(UploadRoute(target: "/v1alpha1/upload-archive") == .upload(UploadKind(archive: true)))
        #expect(UploadRoute(target: "/v1beta1/upload/") == nil)
        #expect(UploadRoute(target: "/v1/upload") == nil)
    }

    @Test func tusHeaders() throws {
        var headers = HTTPHeaders()
        headers.add(name: "Upload-Length", value: "123")
        headers.add(name: "Upload-Metadata", value: "filename ZGlzay5pbWc=,empty,checksum c2hhMjU2OmFi")
        #expect(try Tus.number("Upload-Length", in: headers) == 123)
        #expect(try Tus.number("Upload-Offset", in: headers) == nil)
        let metadata = try Tus.metadata(headers)
        #expect(metadata["filename"].map { String(decoding: $0, as: UTF8.self) } == "disk.img")
        #expect(metadata["empty"] == [])
        headers.replaceOrAdd(name: "Upload-Length", value: "-1")
        #expect(throws: TusError.self) { try Tus.number("Upload-Length", in: headers) }

        var chunk = HTTPHeaders()
        chunk.add(name: "Upload-Checksum", value: "sha1 \(Base64.encode([UInt8](repeating: 7, count: 20)))")
        #expect(try TusChunkChecksum(chunk)?.algorithm == .sha1)
        chunk.replaceOrAdd(name: "Upload-Checksum", value: "crc32 AAAA")
        #expect(throws: TusError.self) { try TusChunkChecksum(chunk) }
        chunk.replaceOrAdd(name: "Upload-Checksum", value: "sha256 AAAA")
        #expect(throws: TusError.self) { try TusChunkChecksum(chunk) }
    }

    @Test func cryptoConfigAsCDIReadsIt() {
        let config = CryptoConfig(ciphers: "ECDHE-RSA-AES128-GCM-SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256,BOGUS",
                                  minimumVersion: "VersionTLS13")
        #expect(config.cipherSuites == [.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384])
        #expect(config.unknownCiphers == ["BOGUS"])
        #expect(config.minimumVersion == .tlsv13)
        let defaults = CryptoConfig(ciphers: "", minimumVersion: "")
        #expect(defaults.cipherSuites.isEmpty && defaults.minimumVersion == .tlsv12 && defaults.unknownVersion == nil)
        #expect(CryptoConfig(ciphers: "", minimumVersion: "TLS1.2").unknownVersion == "TLS1.2")
    }

    @Test func failuresAnswerAsCDIDoes() {
        let space = UploadFailure(DiskImportError(.space, "image virtual size 2 GiB is larger than the usable space"))
        #expect(space.status == .badRequest)
        #expect(space.body.hasPrefix("Saving stream failed: effective image size is larger than the reported available storage: "))
        let scratch = UploadFailure(DiskImportError(.scratchRequired, "qcow2 tables after data"))
        #expect(scratch.status == .internalServerError)
        #expect(scratch.body.hasPrefix("Saving stream failed: scratch space required and none found"))
        #expect(UploadFailure(DiskImportError(.corrupt, "bad")).status == .internalServerError)
        #expect(UploadFailure(MultipartFormReader.Failure.malformed("m")).status == .badRequest)
    }

    @Test func environmentDefaultsAndRefusals() throws {
        let env = try UploadServerEnvironment(["TLS_KEY_FILE": "k", "TLS_CERT_FILE": "c"])
        #expect(env.listenAddress == "0.0.0.0" && env.listenPort == 8443 && env.destination == nil)
        #expect(env.preallocation == false && env.imageSize == nil && env.deadline == nil)
        // CDI reads an unset FILESYSTEM_OVERHEAD as 0 (ParseFloat's error dropped).
        #expect(env.filesystemOverhead == .none)
        let set = try UploadServerEnvironment(["TLS_KEY_FILE": "k", "TLS_CERT_FILE": "c", "LISTEN_ADDRESS": "", "LISTEN_PORT": "99999",
                                               "UPLOAD_IMAGE_SIZE": "1Gi", "PREALLOCATION": "T", "FILESYSTEM_OVERHEAD": "0.06",
                                               "DEADLINE": "2030-01-02T03:04:05Z", "CLIENT_NAME": "proxy"])
        #expect(set.listenAddress == "" && set.listenPort == 8443)
        #expect(set.imageSize == 1 << 30 && set.preallocation && set.filesystemOverhead.description == "0.06")
        #expect(set.deadline?.description == "2030-01-02T03:04:05Z" && set.clientName == "proxy")
        #expect(throws: DiskImportError.self) { try UploadServerEnvironment([:]) }
        #expect(throws: DiskImportError.self) { try UploadServerEnvironment(["TLS_KEY_FILE": "k", "TLS_CERT_FILE": "c", "PREALLOCATION": "yes"]) }
        #expect(throws: DiskImportError.self) { try UploadServerEnvironment(["TLS_KEY_FILE": "k", "TLS_CERT_FILE": "c", "DEADLINE": "tomorrow"]) }
    }
}
