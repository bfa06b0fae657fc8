#define CURL_STRICTER
#include <curl/curl.h>

/// curl_easy_setopt and curl_easy_getinfo are variadic; Swift needs one typed entry point per argument type.
static inline CURLcode ccurl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_offset(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode ccurl_setopt_write_function(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f);
}
static inline CURLcode ccurl_setopt_read_function(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(h, CURLOPT_READFUNCTION, f);
}
static inline CURLcode ccurl_setopt_header_function(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) {
    return curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, f);
}
static inline CURLcode ccurl_setopt_xferinfo_function(CURL *h, int (*f)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t)) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, f);
}
static inline CURLcode ccurl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_getinfo_offset(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode ccurl_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }

/// CURLOPT_CAINFO_BLOB: a PEM bundle in memory, copied by libcurl (CURL_BLOB_COPY).
static inline CURLcode ccurl_setopt_ca_blob(CURL *h, const void *data, size_t length) {
    struct curl_blob blob = { (void *)data, length, CURL_BLOB_COPY };
    return curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
}
/// CURLAUTH_BASIC is a macro with a cast, which Swift cannot import.
static inline long ccurl_auth_basic(void) { return (long)CURLAUTH_BASIC; }

/// CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3"): libcurl signs each request (ranged ones and every header set with
/// CURLOPT_HTTPHEADER included) with AWS Signature V4, from CURLOPT_USERNAME (access key id) and CURLOPT_PASSWORD
/// (secret key). NULL turns signing off again and restores CURLAUTH_BASIC, for a handle that is reused.
/// CURLAUTH_AWS_SIGV4 is a macro with a cast, which Swift cannot import.
static inline CURLcode ccurl_setopt_aws_sigv4(CURL *h, const char *provider) {
    CURLcode code = curl_easy_setopt(h, CURLOPT_AWS_SIGV4, provider);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(h, CURLOPT_HTTPAUTH, provider ? (long)CURLAUTH_AWS_SIGV4 : (long)CURLAUTH_BASIC);
}
