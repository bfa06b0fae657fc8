import COpenSSL
import DiskImportCore
import NIOCore
import NIOSSL

/// The server's TLS: its certificate and key (TLS_CERT_FILE, TLS_KEY_FILE), and client certificates verified when
/// given against CLIENT_CERT_FILE, as CDI's getTLSConfig sets Go's tls.VerifyClientCertIfGiven: a client without a
/// certificate completes the handshake (and may ask /healthz), one whose certificate does not verify does not.
enum UploadTLS {
    static func context(certificateFile: String, keyFile: String, clientCAFile: String?, crypto: CryptoConfig) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw DiskImportError(.tls, "Error getting TLS config: cannot load the certificate TLS_CERT_FILE \(certificateFile): \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw DiskImportError(.tls, "Error getting TLS config: cannot load the private key TLS_KEY_FILE \(keyFile): \(error)")
        }
        guard !chain.isEmpty else {
            throw DiskImportError(.tls, "Error getting TLS config: TLS_CERT_FILE \(certificateFile) holds no certificate")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = crypto.minimumVersion
        if !crypto.cipherSuites.isEmpty { configuration.cipherSuiteValues = crypto.cipherSuites }
        configuration.certificateVerification = .optionalVerification
        configuration.sendCANameList = true
        if let clientCAFile {
            let authorities: [NIOSSLCertificate]
            do {
                authorities = try NIOSSLCertificate.fromPEMFile(clientCAFile)
            } catch {
                throw DiskImportError(.tls, "Error getting TLS config: cannot load CLIENT_CERT_FILE \(clientCAFile): \(error)")
            }
            guard !authorities.isEmpty else {
                throw DiskImportError(.tls, "Error getting TLS config: CLIENT_CERT_FILE \(clientCAFile) holds no certificate")
            }
            configuration.trustRoots = .certificates(authorities)
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw DiskImportError(.tls, "Error getting TLS config: \(error)")
        }
    }
}

/// Who may upload: a client whose certificate verified (against CLIENT_CERT_FILE) and names CLIENT_NAME, the upload
/// proxy's name (CDI's validateShouldHandleRequest: 401 without a verified chain, 401 unless a certificate's subject
/// common name is CLIENT_NAME).
///
/// CDI looks for the name in every certificate the client sent; this looks at the verified leaf only, the
/// certificate the client proved it holds the key of. CDI's proxy presents exactly one certificate, its own leaf
/// signed by the client CA, so both accept the same clients.
struct ClientAuthorizer: Sendable {
    let clientName: String

    enum Decision: Equatable {
        case authorized
        case noCertificate
        case wrongName(String?)
    }

    /// The decision for the connection whose TLS handler is `tls` (on its event loop, after the handshake).
    func decide(_ tls: NIOSSLHandler) -> Decision {
        guard let certificate = tls.peerCertificate else { return .noCertificate }
        let name = Self.subjectCommonName(certificate)
        return name == clientName ? .authorized : .wrongName(name)
    }

    /// The subject's common name as Go's pkix.Name has it (the last CN attribute), from the DER bytes with
    /// OpenSSL's d2i_X509 and X509_NAME_get_index_by_NID.
    static func subjectCommonName(_ certificate: NIOSSLCertificate) -> String? {
        guard let der = try? certificate.toDERBytes() else { return nil }
        return der.withUnsafeBufferPointer { buffer -> String? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let x509 = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            defer { X509_free(x509) }
            guard let subject = X509_get_subject_name(x509) else { return nil }
            var index: Int32 = -1, last: Int32 = -1
            while true {
                index = X509_NAME_get_index_by_NID(subject, NID_commonName, index)
                if index < 0 { break }
                last = index
            }
            guard last >= 0, let entry = X509_NAME_get_entry(subject, last), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
            var utf8: UnsafeMutablePointer<UInt8>?
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            guard length >= 0, let utf8 else { return nil }
            defer { CRYPTO_free(utf8, "UploadTLS.swift", 0) }   // OPENSSL_free is a macro
            return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
        }
    }
}
