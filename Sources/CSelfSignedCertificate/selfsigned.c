#include "CSelfSignedCertificate.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// Copies the memory BIO's contents into a NUL-terminated malloc'd buffer.
static char *copy_bio(BIO *bio, size_t *length) {
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0) return NULL;
    char *copy = malloc((size_t)n + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, data, (size_t)n);
    copy[n] = 0;
    *length = (size_t)n;
    return copy;
}

/// Adds one v3 extension in OpenSSL's configuration syntax (X509V3_EXT_conf_nid).
static int add_extension(X509 *certificate, int nid, const char *value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (extension == NULL) return 0;
    int ok = X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
    return ok;
}

static void fail(const char *step, char *error, size_t error_size) {
    char reason[256] = "unknown error";
    unsigned long code = ERR_peek_last_error();
    if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
    ERR_clear_error();
    if (error != NULL && error_size > 0) snprintf(error, error_size, "%s: %s", step, reason);
}

int cselfsigned_generate(const char *common_name, const char *subject_alt_names, int days,
                         cselfsigned_identity *identity, char *error, size_t error_size) {
    memset(identity, 0, sizeof *identity);
    int status = -1;
    EVP_PKEY *key = NULL;
    X509 *certificate = NULL;
    BIGNUM *serial = NULL;
    BIO *certificate_bio = NULL, *key_bio = NULL;

    if ((key = EVP_EC_gen("P-256")) == NULL) { fail("generating a P-256 key", error, error_size); goto done; }
    if ((certificate = X509_new()) == NULL || X509_set_version(certificate, X509_VERSION_3) != 1) {
        fail("creating a certificate", error, error_size);
        goto done;
    }
    // A random positive serial below 2^127 (RFC 5280 allows at most 20 octets).
    if ((serial = BN_new()) == NULL || BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate)) == NULL) {
        fail("choosing a serial number", error, error_size);
        goto done;
    }
    // Valid from an hour ago, for clocks a little behind ours.
    if (X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(certificate), (long)days * 86400) == NULL) {
        fail("setting the validity", error, error_size);
        goto done;
    }
    X509_NAME *name = X509_get_subject_name(certificate);
    if (X509_set_pubkey(certificate, key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0) != 1 ||
        X509_set_issuer_name(certificate, name) != 1) {
        fail("setting the names", error, error_size);
        goto done;
    }
    if (!add_extension(certificate, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_extension(certificate, NID_key_usage, "critical,digitalSignature") ||
        !add_extension(certificate, NID_ext_key_usage, "serverAuth") ||
        (subject_alt_names != NULL && subject_alt_names[0] != 0 &&
         !add_extension(certificate, NID_subject_alt_name, subject_alt_names))) {
        fail("adding extensions", error, error_size);
        goto done;
    }
    if (X509_sign(certificate, key, EVP_sha256()) == 0) { fail("signing", error, error_size); goto done; }

    if ((certificate_bio = BIO_new(BIO_s_mem())) == NULL || (key_bio = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_X509(certificate_bio, certificate) != 1 ||
        PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
        fail("encoding PEM", error, error_size);
        goto done;
    }
    identity->certificate_pem = copy_bio(certificate_bio, &identity->certificate_length);
    identity->private_key_pem = copy_bio(key_bio, &identity->private_key_length);
    if (identity->certificate_pem == NULL || identity->private_key_pem == NULL) {
        cselfsigned_free(identity);
        if (error != NULL && error_size > 0) snprintf(error, error_size, "out of memory");
        goto done;
    }
    status = 0;

done:
    BIO_free(certificate_bio);
    if (key_bio != NULL) {
        // The key's PEM text sits in the BIO's buffer: wipe it before freeing.
        char *data = NULL;
        long n = BIO_get_mem_data(key_bio, &data);
        if (n > 0) OPENSSL_cleanse(data, (size_t)n);
        BIO_free(key_bio);
    }
    BN_free(serial);
    X509_free(certificate);
    EVP_PKEY_free(key);
    return status;
}

void cselfsigned_free(cselfsigned_identity *identity) {
    if (identity->private_key_pem != NULL) OPENSSL_cleanse(identity->private_key_pem, identity->private_key_length);
    free(identity->certificate_pem);
    free(identity->private_key_pem);
    memset(identity, 0, sizeof *identity);
}
