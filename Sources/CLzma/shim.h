#include <lzma.h>

/// Flags are macros; re-export the ones Swift needs as constants.
static const uint32_t clzma_concatenated = LZMA_CONCATENATED;
static const uint32_t clzma_tell_unsupported_check = LZMA_TELL_UNSUPPORTED_CHECK;
static const uint32_t clzma_fail_fast = LZMA_FAIL_FAST;
