#include <zlib.h>

/// zlib's init macros pass sizeof(z_stream) and the version string; Swift cannot call macros.
static inline int czlib_inflate_init2(z_stream *strm, int window_bits) {
    return inflateInit2_(strm, window_bits, ZLIB_VERSION, (int)sizeof(z_stream));
}
static inline int czlib_deflate_init2(z_stream *strm, int level, int window_bits) {
    return deflateInit2_(strm, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, (int)sizeof(z_stream));
}
