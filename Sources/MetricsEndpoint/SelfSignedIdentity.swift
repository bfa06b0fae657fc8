import CSelfSignedCertificate
import DiskImportCore
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// A TLS server identity made at start-up and held only in memory. CDI's importer serves its metrics the same way,
/// with a certificate it generates itself: Prometheus and CDI's controller scrape pods without verifying them.
public struct SelfSignedIdentity: Sendable {
    /// The certificate in PEM form.
    public let certificatePEM: String
    public let certificate: NIOSSLCertificate
    public let privateKey: NIOSSLPrivateKey

    /// Generates a P-256 key and a certificate for `commonName`, also valid for `alternativeNames` (DNS names or IP
    /// addresses), with cselfsigned_generate (OpenSSL's EVP_EC_gen and X509_sign).
    public static func generate(commonName: String, alternativeNames: [String] = [], days: Int = 365) throws -> SelfSignedIdentity {
        let subjectAlternativeNames = ([commonName] + alternativeNames)
            .map { isIPAddress($0) ? "IP:\($0)" : "DNS:\($0)" }
            .joined(separator: ",")
        var identity = cselfsigned_identity()
        var error = [CChar](repeating: 0, count: 512)
        let status = cselfsigned_generate(commonName, subjectAlternativeNames, Int32(days), &identity, &error, error.count)
        defer { cselfsigned_free(&identity) }
        guard status == 0, let certificateText = identity.certificate_pem, let keyText = identity.private_key_pem else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DiskImportError(.tls, "generating the metrics server's self-signed certificate: \(reason)")
        }
        let certificatePEM = String(cString: certificateText)
        let keyPEM = UnsafeRawBufferPointer(start: keyText, count: identity.private_key_length)
        do {
            return SelfSignedIdentity(
                certificatePEM: certificatePEM,
                certificate: try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem),
                privateKey: try NIOSSLPrivateKey(bytes: Array(keyPEM), format: .pem))
        } catch {
            throw DiskImportError(.tls, "loading the metrics server's self-signed certificate: \(error)")
        }
    }

    /// inet_pton(3) for IPv4 and IPv6: tells an IP subjectAltName from a DNS one.
    static func isIPAddress(_ text: String) -> Bool {
        var address = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, text, &address) == 1 || inet_pton(AF_INET6, text, &address) == 1
    }
}
