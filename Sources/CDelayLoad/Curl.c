// The nine libcurl functions diskimport calls, forwarded to libcurl.so.4 opened on first use (DelayedLibrary.c).
// curl_easy_setopt and curl_easy_getinfo are variadic; their one argument's type follows from the option number's
// range (CURLOPTTYPE_LONG, _OBJECTPOINT, _FUNCTIONPOINT, _OFF_T, _BLOB), as libcurl's own setopt reads it
// (lib/setopt.c, Curl_vsetopt).
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <stdarg.h>
#include "DelayedLibrary.h"
#include "CDelayLoad.h"

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLcode (*easy_perform)(CURL *);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;

static const char *const names[] = {
    "curl_global_init", "curl_easy_init", "curl_easy_setopt", "curl_easy_getinfo", "curl_easy_perform",
    "curl_easy_cleanup", "curl_easy_strerror", "curl_slist_append", "curl_slist_free_all",
};

static struct delayed_library library = {
    .soname = "libcurl.so.4", .package = "libcurl4", .names = names, .slots = (void **)&curl,
    .count = sizeof names / sizeof names[0], .lock = PTHREAD_MUTEX_INITIALIZER,
};
_Static_assert(sizeof curl == sizeof names / sizeof names[0] * sizeof(void *), "one slot per name");

static int ready(void) { return delayed_library_ready(&library); }

const char *ccurl_load_failure(void) { return library.failure[0] ? library.failure : NULL; }

CURLcode curl_global_init(long flags) { return ready() ? curl.global_init(flags) : CURLE_FAILED_INIT; }

CURL *curl_easy_init(void) { return ready() ? curl.easy_init() : NULL; }

CURLcode curl_easy_setopt(CURL *handle, CURLoption option, ...) {
    if (!ready()) return CURLE_FAILED_INIT;
    va_list arguments;
    va_start(arguments, option);
    CURLcode code;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        code = curl.easy_setopt(handle, option, va_arg(arguments, long));
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        code = curl.easy_setopt(handle, option, va_arg(arguments, void *));
    } else if (option < CURLOPTTYPE_OFF_T) {
        code = curl.easy_setopt(handle, option, va_arg(arguments, void (*)(void)));
    } else if (option < CURLOPTTYPE_BLOB) {
        code = curl.easy_setopt(handle, option, va_arg(arguments, curl_off_t));
    } else {
        code = curl.easy_setopt(handle, option, va_arg(arguments, void *));
    }
    va_end(arguments);
    return code;
}

CURLcode curl_easy_getinfo(CURL *handle, CURLINFO info, ...) {
    if (!ready()) return CURLE_FAILED_INIT;
    va_list arguments;
    va_start(arguments, info);
    CURLcode code = curl.easy_getinfo(handle, info, va_arg(arguments, void *));
    va_end(arguments);
    return code;
}

CURLcode curl_easy_perform(CURL *handle) { return ready() ? curl.easy_perform(handle) : CURLE_FAILED_INIT; }

void curl_easy_cleanup(CURL *handle) {
    if (ready()) curl.easy_cleanup(handle);
}

const char *curl_easy_strerror(CURLcode code) { return ready() ? curl.easy_strerror(code) : library.failure; }

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *string) {
    return ready() ? curl.slist_append(list, string) : NULL;
}

void curl_slist_free_all(struct curl_slist *list) {
    if (ready()) curl.slist_free_all(list);
}
