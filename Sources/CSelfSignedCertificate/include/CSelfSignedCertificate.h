#ifndef CSELFSIGNEDCERTIFICATE_H
#define CSELFSIGNEDCERTIFICATE_H
// A fresh self-signed TLS server certificate, made in memory with the system's libcrypto (OpenSSL 3).
#include <stddef.h>

/// PEM text of a certificate and its private key; free with cselfsigned_free.
typedef struct {
    char *certificate_pem;
    size_t certificate_length;
    char *private_key_pem;
    size_t private_key_length;
} cselfsigned_identity;

/// Generates a P-256 key (EVP_EC_gen) and an X.509 v3 certificate signed by it with SHA-256: subject and issuer
/// CN=`common_name`, subjectAltName `subject_alt_names` (OpenSSL syntax, "DNS:a,IP:127.0.0.1"), valid from an hour
/// ago for `days` days, a random 127-bit serial, CA:FALSE, key usage digitalSignature, extended key usage serverAuth.
/// Returns 0 and fills `identity`, or -1 and writes OpenSSL's reason (NUL-terminated) into `error` (`error_size` bytes).
int cselfsigned_generate(const char *common_name, const char *subject_alt_names, int days,
                         cselfsigned_identity *identity, char *error, size_t error_size);

/// Frees the PEM buffers of an identity made by cselfsigned_generate (the key buffer is wiped first).
void cselfsigned_free(cselfsigned_identity *identity);

#endif
