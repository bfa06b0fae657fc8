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

static void load(struct delayed_library *library) {
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
    if (__atomic_load_n(&library->loaded, __ATOMIC_ACQUIRE)) return 1;
    // The first caller loads; the others wait here, and after a failure every call returns at once.
    pthread_mutex_lock(&library->lock);
    if (!library->attempted) {
        library->attempted = 1;
        load(library);
    }
    pthread_mutex_unlock(&library->lock);
    return __atomic_load_n(&library->loaded, __ATOMIC_ACQUIRE);
}
