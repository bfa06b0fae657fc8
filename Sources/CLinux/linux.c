#include "CLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>

const int clinux_falloc_keep_size = FALLOC_FL_KEEP_SIZE;
const int clinux_falloc_punch_hole = FALLOC_FL_PUNCH_HOLE;
const int clinux_falloc_zero_range = FALLOC_FL_ZERO_RANGE;
const int clinux_o_direct = O_DIRECT;

int clinux_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return fallocate(fd, mode, (off_t)offset, (off_t)length);
}

int clinux_posix_fallocate(int fd, int64_t offset, int64_t length) {
    return posix_fallocate(fd, (off_t)offset, (off_t)length);
}

int64_t clinux_seek_data(int fd, int64_t offset) { return lseek(fd, (off_t)offset, SEEK_DATA); }
int64_t clinux_seek_hole(int fd, int64_t offset) { return lseek(fd, (off_t)offset, SEEK_HOLE); }

int64_t clinux_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, uint64_t length) {
    loff_t in = *off_in, out = *off_out;
    ssize_t n = copy_file_range(fd_in, &in, fd_out, &out, (size_t)length, 0);
    *off_in = in; *off_out = out;
    return n;
}

int clinux_clone_range(int src_fd, uint64_t src_offset, uint64_t length, int dst_fd, uint64_t dst_offset) {
    struct file_clone_range r = { .src_fd = src_fd, .src_offset = src_offset, .src_length = length, .dest_offset = dst_offset };
    return ioctl(dst_fd, FICLONERANGE, &r);
}

int clinux_clone_file(int src_fd, int dst_fd) { return ioctl(dst_fd, FICLONE, src_fd); }

int clinux_block_device_size(int fd, uint64_t *size) { return ioctl(fd, BLKGETSIZE64, size); }

int clinux_block_zero_out(int fd, uint64_t offset, uint64_t length) {
    uint64_t range[2] = { offset, length };
    return ioctl(fd, BLKZEROOUT, range);
}

int clinux_block_discard(int fd, uint64_t offset, uint64_t length) {
    uint64_t range[2] = { offset, length };
    return ioctl(fd, BLKDISCARD, range);
}

int clinux_block_sector_size(int fd, int *size) { return ioctl(fd, BLKSSZGET, size); }

int clinux_statfs(const char *path, uint64_t *available_bytes, int64_t *fs_type, uint64_t *block_size) {
    struct statfs s;
    if (statfs(path, &s) != 0) return -1;
    *available_bytes = (uint64_t)s.f_bavail * (uint64_t)s.f_bsize;
    *fs_type = (int64_t)s.f_type;
    *block_size = (uint64_t)s.f_bsize;
    return 0;
}

int clinux_fiemap_shared(int fd, uint64_t *extents, uint64_t *shared_extents, uint64_t *shared_bytes) {
    enum { batch = 256 };
    size_t size = sizeof(struct fiemap) + batch * sizeof(struct fiemap_extent);
    struct fiemap *map = calloc(1, size);
    if (!map) { errno = ENOMEM; return -1; }
    uint64_t start = 0, count = 0, shared = 0, sharedBytes = 0;
    for (;;) {
        memset(map, 0, size);
        map->fm_start = start;
        map->fm_length = FIEMAP_MAX_OFFSET - start;
        map->fm_flags = FIEMAP_FLAG_SYNC;
        map->fm_extent_count = batch;
        if (ioctl(fd, FS_IOC_FIEMAP, map) != 0) { int e = errno; free(map); errno = e; return -1; }
        if (map->fm_mapped_extents == 0) break;
        int last = 0;
        for (unsigned i = 0; i < map->fm_mapped_extents; i++) {
            struct fiemap_extent *e = &map->fm_extents[i];
            count++;
            if (e->fe_flags & FIEMAP_EXTENT_SHARED) { shared++; sharedBytes += e->fe_length; }
            if (e->fe_flags & FIEMAP_EXTENT_LAST) last = 1;
            start = e->fe_logical + e->fe_length;
        }
        if (last) break;
    }
    free(map);
    *extents = count; *shared_extents = shared; *shared_bytes = sharedBytes;
    return 0;
}

void clinux_map_allocations_from(size_t bytes) { mallopt(M_MMAP_THRESHOLD, (int)bytes); }

// MAP_POPULATE ignores read errors: a page the file system could not read (EIO) or that is past a shrunken end is
// simply left out, and touching it later raises SIGBUS, or on FUSE retries the failing read forever in the fault
// handler. So a populated mapping is checked with mincore(2), and one with a page missing is given back (EIO): the
// caller then reads the range with pread(2), which reports the error as an errno.
static int clinux_all_resident(void *p, uint64_t length) {
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = (size_t)((length + (uint64_t)page - 1) / (uint64_t)page);
    unsigned char stack_vector[4096];
    unsigned char *vector = pages <= sizeof stack_vector ? stack_vector : malloc(pages);
    if (vector == NULL) return 0;
    int resident = mincore(p, (size_t)length, vector) == 0;
    for (size_t i = 0; resident && i < pages; i++) resident = vector[i] & 1;
    if (vector != stack_vector) free(vector);
    return resident;
}

void *clinux_map_readonly(int fd, uint64_t offset, uint64_t length, int populate) {
    void *p = mmap(NULL, (size_t)length, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, (off_t)offset);
    if (p == MAP_FAILED) return NULL;
    if (populate && !clinux_all_resident(p, length)) {
        munmap(p, (size_t)length);
        errno = EIO;
        return NULL;
    }
    return p;
}

int clinux_is_fuse(int fd) {
    struct statfs info;
    return fstatfs(fd, &info) == 0 && (unsigned long)info.f_type == 0x65735546UL;
}

int clinux_unmap(void *address, uint64_t length) { return munmap(address, (size_t)length); }

// Slots are claimed with a compare-and-swap (free -> filling), filled, then armed; the handler only reads armed
// slots, so it never sees a half-copied path. Paths live in static storage: nothing is freed under the handler.
enum { cleanup_slots = 64, slot_free = 0, slot_filling = 1, slot_armed = 2 };
static _Atomic int cleanup_state[cleanup_slots];
static char cleanup_paths[cleanup_slots][PATH_MAX];
/// A file written in place is emptied (ftruncate of this descriptor) instead of unlinked; -1 for a path's slot.
static int cleanup_fds[cleanup_slots];
static const int cleanup_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
static pthread_once_t cleanup_once = PTHREAD_ONCE_INIT;
/// 1 while a progress bar is drawn on a terminal: the handler erases it, so the shell's prompt does not land in it.
static _Atomic int cleanup_progress_line;

static void cleanup_on_signal(int sig) {
    int saved = errno;
    for (int i = 0; i < cleanup_slots; i++) {
        if (atomic_load(&cleanup_state[i]) != slot_armed) continue;
        if (cleanup_fds[i] >= 0) {
            if (ftruncate(cleanup_fds[i], 0) != 0) { /* nothing more can be done here */ }
        } else {
            unlink(cleanup_paths[i]);
        }
    }
    if (atomic_load(&cleanup_progress_line)) {
        static const char erase[] = "\r\033[K";
        if (write(STDERR_FILENO, erase, sizeof erase - 1) < 0) { /* stderr is gone */ }
    }
    // Default action, then deliver the same signal again, unblocked so it lands now rather than when the handler
    // returns: the process ends as the signal says.
    signal(sig, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    pthread_sigmask(SIG_UNBLOCK, &only, NULL);
    errno = saved;
    raise(sig);
    // Still here: we are PID 1 of a container, where the kernel drops default-action signals sent to init. Exit as
    // a shell reports a death by signal, or the pod would carry on importing after Kubernetes asked it to stop.
    _exit(128 + sig);
}

static void cleanup_install(void) {
    // The handlers first, the unblocking after: a signal that arrived while blocked is delivered on the unblock, and
    // under the default action it would end the process with the file just created left behind.
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) {
        struct sigaction old;
        // Leave a signal that the parent asked us to ignore (nohup, background jobs) ignored.
        if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = cleanup_on_signal;
        sigemptyset(&action.sa_mask);
        for (size_t j = 0; j < sizeof cleanup_signals / sizeof cleanup_signals[0]; j++) sigaddset(&action.sa_mask, cleanup_signals[j]);
        sigaction(cleanup_signals[i], &action, NULL);
    }
    // A parent may hand us a mask that blocks these (Foundation's Process on Linux passes on the blocked mask of the
    // thread that spawns): a handler that is never delivered protects nothing, so unblock them here. Threads started
    // later inherit this thread's mask, hence clinux_cleanup_install at the top of main.
    sigset_t unblock;
    sigemptyset(&unblock);
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) sigaddset(&unblock, cleanup_signals[i]);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
}

void clinux_cleanup_install(void) { pthread_once(&cleanup_once, cleanup_install); }

static int cleanup_claim(const char *path, int fd) {
    size_t length = path ? strlen(path) : 0;
    if (length >= PATH_MAX) { errno = ENAMETOOLONG; return -1; }
    pthread_once(&cleanup_once, cleanup_install);
    for (int i = 0; i < cleanup_slots; i++) {
        int expected = slot_free;
        if (atomic_compare_exchange_strong(&cleanup_state[i], &expected, slot_filling)) {
            if (path) memcpy(cleanup_paths[i], path, length + 1);
            cleanup_fds[i] = fd;
            atomic_store(&cleanup_state[i], slot_armed);
            return i;
        }
    }
    errno = EMFILE;
    return -1;
}

int clinux_cleanup_register(const char *path) { return cleanup_claim(path, -1); }

int clinux_cleanup_register_truncate(int fd) { return cleanup_claim(NULL, fd); }

void clinux_cleanup_progress_line(int drawn) {
    pthread_once(&cleanup_once, cleanup_install);
    atomic_store(&cleanup_progress_line, drawn);
}

void clinux_cleanup_unregister(int slot) {
    if (slot >= 0 && slot < cleanup_slots) atomic_store(&cleanup_state[slot], slot_free);
}

int clinux_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}
