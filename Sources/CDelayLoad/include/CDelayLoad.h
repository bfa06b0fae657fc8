#ifndef DISKIMPORT_CDELAYLOAD_H
#define DISKIMPORT_CDELAYLOAD_H

/// Why libcurl could not be loaded ("cannot load libcurl (install libcurl4): ..."), or NULL when it loaded or no
/// curl function has been called yet.
const char *ccurl_load_failure(void);

/// The same for libarchive.
const char *carchive_load_failure(void);

#endif
