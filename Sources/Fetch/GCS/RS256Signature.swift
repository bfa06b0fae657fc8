import COpenSSL
import DiskImportCore

/// RSASSA-PKCS1-v1_5 with SHA-256 (JWS "RS256") by libcrypto: PEM_read_bio_PrivateKey, then EVP_DigestSign.
enum RS256Signature {
    static func sign(_ message: [UInt8], privateKeyPEM: String) throws -> [UInt8] {
        let key: OpaquePointer = try privateKeyPEM.utf8CString.withUnsafeBufferPointer { pem in
            guard let bio = BIO_new_mem_buf(pem.baseAddress, Int32(pem.count - 1)) else {
                throw DiskImportError(.io, "BIO_new_mem_buf failed")
            }
            defer { BIO_free(bio) }
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                ERR_clear_error()
                throw DiskImportError.usage("the service account's private_key is not a PEM private key")
            }
            return key
        }
        defer { EVP_PKEY_free(key) }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA else {
            throw DiskImportError.usage("the service account's private_key is not an RSA key (RS256 needs one)")
        }
        guard let context = EVP_MD_CTX_new() else { throw DiskImportError(.io, "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1 else {
            ERR_clear_error()
            throw DiskImportError(.io, "EVP_DigestSignInit failed for RS256")
        }
        var length = 0
        guard message.withUnsafeBufferPointer({ EVP_DigestSign(context, nil, &length, $0.baseAddress, $0.count) }) == 1 else {
            ERR_clear_error()
            throw DiskImportError(.io, "EVP_DigestSign failed for RS256")
        }
        var signature = [UInt8](repeating: 0, count: length)
        let status = signature.withUnsafeMutableBufferPointer { out in
            message.withUnsafeBufferPointer { EVP_DigestSign(context, out.baseAddress, &length, $0.baseAddress, $0.count) }
        }
        guard status == 1 else {
            ERR_clear_error()
            throw DiskImportError(.io, "EVP_DigestSign failed for RS256")
        }
        return Array(signature[..<length])
    }
}
