// A shared library opened when one of its functions is first called (see DelayedLibrary.c).
#ifndef DISKIMPORT_DELAYED_LIBRARY_H
#define DISKIMPORT_DELAYED_LIBRARY_H

#include <pthread.h>
#include <stddef.h>

struct delayed_library {
    const char *soname;        // "libcurl.so.4"
    const char *package;       // the Debian package that installs it, for the message
    const char *const *names;  // the functions to bind, in the order of `slots`
    void **slots;
    size_t count;
    pthread_mutex_t lock;      // PTHREAD_MUTEX_INITIALIZER
    int attempted;             // guarded by lock
    int loaded;
    char failure[512];
};

/// Opens the library and binds every function, once (later calls return at once); 1 when all are bound.
int delayed_library_ready(struct delayed_library *library);

#endif
