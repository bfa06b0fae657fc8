#ifndef CLINUX_H
#define CLINUX_H
// Linux-only syscalls and ioctls that Glibc's Swift overlay does not expose (they need _GNU_SOURCE or are macros).
#include <stdint.h>
#include <sys/types.h>

/// fallocate(2). Returns 0 or -1 with errno.
int clinux_fallocate(int fd, int mode, int64_t offset, int64_t length);
/// posix_fallocate(3). Returns 0 or an errno value (it does not set errno).
int clinux_posix_fallocate(int fd, int64_t offset, int64_t length);
/// Mode bits for clinux_fallocate.
extern const int clinux_falloc_keep_size;
extern const int clinux_falloc_punch_hole;
extern const int clinux_falloc_zero_range;

/// lseek(2) with SEEK_DATA / SEEK_HOLE.
int64_t clinux_seek_data(int fd, int64_t offset);
int64_t clinux_seek_hole(int fd, int64_t offset);

/// copy_file_range(2). Offsets are advanced in place.
int64_t clinux_copy_file_range(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, uint64_t length);

/// ioctl(FICLONERANGE): share `length` bytes (0 = to end) between files on a reflink filesystem.
int clinux_clone_range(int src_fd, uint64_t src_offset, uint64_t length, int dst_fd, uint64_t dst_offset);
/// ioctl(FICLONE): share a whole file.
int clinux_clone_file(int src_fd, int dst_fd);

/// ioctl(BLKGETSIZE64): size of a block device in bytes.
int clinux_block_device_size(int fd, uint64_t *size);
/// ioctl(BLKZEROOUT): make a range of a block device read as zeros.
int clinux_block_zero_out(int fd, uint64_t offset, uint64_t length);
/// ioctl(BLKDISCARD).
int clinux_block_discard(int fd, uint64_t offset, uint64_t length);
/// ioctl(BLKSSZGET): logical sector size.
int clinux_block_sector_size(int fd, int *size);

/// statfs(2): free bytes available to unprivileged users (f_bavail * f_bsize), the filesystem type, and block size.
int clinux_statfs(const char *path, uint64_t *available_bytes, int64_t *fs_type, uint64_t *block_size);

/// sync_file_range(2) of the whole file with SYNC_FILE_RANGE_WRITE: starts writeback of its dirty pages, without
/// waiting for it. Returns 0 or -1 with errno.
int clinux_start_writeback(int fd);

/// open(2) flag O_DIRECT.
extern const int clinux_o_direct;

/// ioctl(FS_IOC_FIEMAP): counts the file's extents and how many carry FIEMAP_EXTENT_SHARED.
int clinux_fiemap_shared(int fd, uint64_t *extents, uint64_t *shared_extents, uint64_t *shared_bytes);

/// mmap(2) of `length` bytes of `fd` at `offset` (page-aligned), read-only and shared, with MAP_POPULATE when
/// `populate` is non-zero. Returns NULL (not MAP_FAILED) with errno on failure, and (EIO) when a populated page could
/// not be read in: the caller reads such a range with pread(2) instead, so an I/O error is an errno, not a SIGBUS.
void *clinux_map_readonly(int fd, uint64_t offset, uint64_t length, int populate);
/// 1 when `fd` is on a FUSE file system (fstatfs(2) f_type FUSE_SUPER_MAGIC), where a page that fails to read in
/// makes MAP_POPULATE and page faults retry forever in the kernel: such files are read with pread(2), never mapped.
int clinux_is_fuse(int fd);
/// munmap(2).
int clinux_unmap(void *address, uint64_t length);

/// Temporary files removed when the process is interrupted: SIGINT, SIGTERM, SIGHUP or SIGQUIT unlink(2) every
/// registered path, then the signal is re-raised with its default action (so the exit status still says why).
/// Installs the handlers and unblocks those signals in the calling thread. Called first thing in main, before any
/// thread starts: a stop signal that lands before the first temporary file exists then still runs the handler (it
/// would otherwise stay blocked, or pending, and end the process by its default action the moment the first file
/// is armed, leaving that file behind), and every later thread inherits the unblocked mask.
void clinux_cleanup_install(void);
/// Registers `path` (copied); returns a slot for clinux_cleanup_unregister, or -1 when the table is full or the path
/// is too long. Installs the handlers on first use (and unblocks those signals in the calling thread).
int clinux_cleanup_register(const char *path);
/// mallopt(M_MMAP_THRESHOLD, bytes): allocations of `bytes` or more get their own mapping, returned to the kernel on
/// free. Setting it also stops glibc from raising the threshold after each large free.
void clinux_map_allocations_from(size_t bytes);
/// Registers an open file written in place: on those signals it is truncated to 0 bytes (it cannot be removed), so
/// no half-written disk keeps the length of a complete one. Returns a slot as clinux_cleanup_register does.
int clinux_cleanup_register_truncate(int fd);

/// Says whether a progress bar is drawn on the terminal (1) or not (0): on those signals the handler erases it
/// before the process ends. Installs the handlers if they are not yet.
void clinux_cleanup_progress_line(int drawn);

/// Forgets a slot from clinux_cleanup_register or clinux_cleanup_register_truncate (the file is kept).
void clinux_cleanup_unregister(int slot);

#endif
