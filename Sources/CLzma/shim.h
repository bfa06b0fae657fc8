#include <lzma.h>

/// Flags are macros; re-export the ones Swift needs as constants.
static const uint32_t clzma_concatenated = LZMA_CONCATENATED;
static const uint32_t clzma_tell_unsupported_check = LZMA_TELL_UNSUPPORTED_CHECK;
static const uint32_t clzma_fail_fast = LZMA_FAIL_FAST;

#include <stdlib.h>
#include <sys/mman.h>

/// liblzma's allocations of 64 KiB and more get their own mapping, returned to the kernel when freed.
///
/// The threaded decoder allocates each block's compressed input (a few MiB, a different size every block) and
/// frees it when the block is done. From malloc those land in the decoding thread's heap, where freed pieces of
/// different sizes stay resident: 10-15 MiB measured on a 4 GiB qcow2.xz. A streaming import has 128 MiB in all.
/// Smaller allocations (coder state, filter options) stay with malloc. A 16-byte header keeps the size for free
/// and malloc's 16-byte alignment.
#define CLZMA_MAPPED_FROM ((size_t)64 << 10)
#define CLZMA_HEADER ((size_t)16)

static inline void *clzma_allocate(void *opaque, size_t count, size_t size) {
    (void)opaque;
    if (size != 0 && count > (SIZE_MAX - CLZMA_HEADER) / size) return NULL;
    size_t bytes = count * size + CLZMA_HEADER;
    unsigned char *block;
    if (bytes >= CLZMA_MAPPED_FROM) {
        block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) return NULL;
    } else {
        block = malloc(bytes);
        if (block == NULL) return NULL;
    }
    *(size_t *)block = bytes;
    return block + CLZMA_HEADER;
}

static inline void clzma_free(void *opaque, void *pointer) {
    (void)opaque;
    if (pointer == NULL) return;
    unsigned char *block = (unsigned char *)pointer - CLZMA_HEADER;
    size_t bytes = *(size_t *)block;
    if (bytes >= CLZMA_MAPPED_FROM) munmap(block, bytes); else free(block);
}

/// The allocator above, for `lzma_stream.allocator` (valid for the life of the process).
static inline const lzma_allocator *clzma_mapping_allocator(void) {
    static const lzma_allocator allocator = { clzma_allocate, clzma_free, NULL };
    return &allocator;
}
