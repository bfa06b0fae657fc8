// The libarchive functions diskimport calls (tar reading), forwarded to libarchive.so.13 opened on first use
// (DelayedLibrary.c).
#include <archive.h>
#include <archive_entry.h>
#include "DelayedLibrary.h"
#include "CDelayLoad.h"

static struct {
    struct archive *(*read_new)(void);
    int (*read_support_format_tar)(struct archive *);
    int (*read_open)(struct archive *, void *, archive_open_callback *, archive_read_callback *, archive_close_callback *);
    int (*read_next_header)(struct archive *, struct archive_entry **);
    la_ssize_t (*read_data)(struct archive *, void *, size_t);
    int (*read_data_block)(struct archive *, const void **, size_t *, la_int64_t *);
    int (*read_free)(struct archive *);
    const char *(*error_string)(struct archive *);
    __LA_MODE_T (*entry_filetype)(struct archive_entry *);
    const char *(*entry_hardlink)(struct archive_entry *);
    const char *(*entry_pathname)(struct archive_entry *);
    const char *(*entry_pathname_utf8)(struct archive_entry *);
    __LA_MODE_T (*entry_perm)(struct archive_entry *);
    la_int64_t (*entry_size)(struct archive_entry *);
    const char *(*entry_symlink)(struct archive_entry *);
} archive;

static const char *const names[] = {
    "archive_read_new", "archive_read_support_format_tar", "archive_read_open", "archive_read_next_header",
    "archive_read_data", "archive_read_data_block", "archive_read_free", "archive_error_string",
    "archive_entry_filetype", "archive_entry_hardlink", "archive_entry_pathname", "archive_entry_pathname_utf8",
    "archive_entry_perm", "archive_entry_size", "archive_entry_symlink",
};

static struct delayed_library library = {
    .soname = "libarchive.so.13", .package = "libarchive13", .names = names, .slots = (void **)&archive,
    .count = sizeof names / sizeof names[0], .lock = PTHREAD_MUTEX_INITIALIZER,
};
_Static_assert(sizeof archive == sizeof names / sizeof names[0] * sizeof(void *), "one slot per name");

static int ready(void) { return delayed_library_ready(&library); }

const char *carchive_load_failure(void) { return library.failure[0] ? library.failure : NULL; }

// Without the library there is no reader: archive_read_new gives NULL, and nothing else is reached.
struct archive *archive_read_new(void) { return ready() ? archive.read_new() : NULL; }
int archive_read_support_format_tar(struct archive *a) { return archive.read_support_format_tar(a); }
int archive_read_open(struct archive *a, void *data, archive_open_callback *open, archive_read_callback *read,
                      archive_close_callback *close) {
    return archive.read_open(a, data, open, read, close);
}
int archive_read_next_header(struct archive *a, struct archive_entry **entry) { return archive.read_next_header(a, entry); }
la_ssize_t archive_read_data(struct archive *a, void *buffer, size_t size) { return archive.read_data(a, buffer, size); }
int archive_read_data_block(struct archive *a, const void **buffer, size_t *size, la_int64_t *offset) {
    return archive.read_data_block(a, buffer, size, offset);
}
int archive_read_free(struct archive *a) { return archive.read_free(a); }
const char *archive_error_string(struct archive *a) { return archive.error_string(a); }
__LA_MODE_T archive_entry_filetype(struct archive_entry *e) { return archive.entry_filetype(e); }
const char *archive_entry_hardlink(struct archive_entry *e) { return archive.entry_hardlink(e); }
const char *archive_entry_pathname(struct archive_entry *e) { return archive.entry_pathname(e); }
const char *archive_entry_pathname_utf8(struct archive_entry *e) { return archive.entry_pathname_utf8(e); }
__LA_MODE_T archive_entry_perm(struct archive_entry *e) { return archive.entry_perm(e); }
la_int64_t archive_entry_size(struct archive_entry *e) { return archive.entry_size(e); }
const char *archive_entry_symlink(struct archive_entry *e) { return archive.entry_symlink(e); }
