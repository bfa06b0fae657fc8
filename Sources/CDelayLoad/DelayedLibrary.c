// Libraries that diskimport opens on first use instead of linking (issue 17 §3).
//
// Debian's libcurl brings 30 shared libraries with it (nghttp2, ssh2, rtmp and gnutls, ldap, krb5, psl, idn2,
// brotli ...) and libarchive 7 (xml2 and ICU, nettle, acl, lz4, bz2): mapping and relocating them cost 6 ms of CPU
// at every start (measured with perf stat on empty C programs linked with and without them), most of
// `diskimport info` on a local file, which needs neither. So diskimport links neither library: Curl.c and Archive.c
// define the functions it calls, which open the library (dlopen) on the first call and forward to it.
#define _GNU_SOURCE
#include "DelayedLibrary.h"
#include <dlfcn.h>
#include <stdio.h>

static struct delayed_library *loading;

static void load(void) {
    struct delayed_library *library = loading;
    void *handle = dlopen(library->soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(library->failure, sizeof library->failure, "cannot load %s (install %s): %s",
                 library->soname, library->package, dlerror());
        return;
    }
    for (size_t i = 0; i < library->count; i++) {
        if (!(library->slots[i] = dlsym(handle, library->names[i]))) {
            snprintf(library->failure, sizeof library->failure, "cannot load %s: it has no %s",
                     library->soname, library->names[i]);
            return;
        }
    }
    __atomic_store_n(&library->loaded, 1, __ATOMIC_RELEASE);
}

int delayed_library_ready(struct delayed_library *library) {
    // pthread_once takes no argument: a process-wide lock passes the library to load().
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    if (__atomic_load_n(&library->loaded, __ATOMIC_ACQUIRE)) return 1;
    pthread_mutex_lock(&lock);
    loading = library;
    pthread_once(&library->once, load);
    pthread_mutex_unlock(&lock);
    return __atomic_load_n(&library->loaded, __ATOMIC_ACQUIRE);
}
