/* Decodes every compressed cluster of a qcow2 (extracted by scripts/bench-deflate-clusters) with libdeflate and with
 * ISA-L, in alternating rounds, exactly as Qcow2ClusterDecompressor calls them: one whole-buffer raw-deflate decode
 * per cluster into one cluster of output. Prints one line per round: "libdeflate SECONDS" or "isal SECONDS", CPU
 * seconds of the decoding thread (on a shared machine wall time measures the neighbours).
 * MODE deflate: raw deflate (qcow2 clusters); zlib: RFC 1950 streams with their Adler-32 (streamOptimized vmdk grains).
 * Usage: deflate_clusters FILE CLUSTER_SIZE ROUNDS MODE   (FILE: repeated [u32 length][bytes]) */
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One cluster through each decoder; true when it decoded into exactly the whole output. */
static int with_libdeflate(struct libdeflate_decompressor *d, int zlib, const uint8_t *in, size_t len, uint8_t *out,
                           size_t cluster) {
    size_t used, produced;
    enum libdeflate_result r = zlib ? libdeflate_zlib_decompress_ex(d, in, len, out, cluster, &used, &produced)
                                    : libdeflate_deflate_decompress_ex(d, in, len, out, cluster, &used, &produced);
    return r == LIBDEFLATE_SUCCESS && produced == cluster;
}

static int with_isal(struct inflate_state *s, int zlib, uint8_t *in, size_t len, uint8_t *out, size_t cluster) {
    isal_inflate_init(s);
    s->crc_flag = zlib ? ISAL_ZLIB : ISAL_DEFLATE;
    s->next_in = in; s->avail_in = len; s->next_out = out; s->avail_out = cluster;
    return isal_inflate_stateless(s) == ISAL_DECOMP_OK && s->avail_out == 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: the machine is shared */
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s FILE CLUSTER_SIZE ROUNDS deflate|zlib\n", argv[0]); return 2; }
    int zlib = strcmp(argv[4], "zlib") == 0;
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *all = malloc(size);
    if (fread(all, 1, size, f) != (size_t)size) { perror("read"); return 1; }
    size_t cluster = strtoul(argv[2], NULL, 10);
    int rounds = atoi(argv[3]);
    size_t count = 0;
    for (long at = 0; at < size; count++) { uint32_t n; memcpy(&n, all + at, 4); at += 4 + n; }
    uint8_t **in = malloc(count * sizeof *in);
    uint32_t *len = malloc(count * sizeof *len);
    long at = 0;
    for (size_t i = 0; i < count; i++) { memcpy(&len[i], all + at, 4); in[i] = all + at + 4; at += 4 + len[i]; }
    uint8_t *a = malloc(cluster), *b = malloc(cluster);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    struct inflate_state *s = calloc(1, sizeof *s);
    size_t failures[2] = {0, 0};
    /* The same bytes from both, checked once. */
    for (size_t i = 0; i < count; i++) {
        int okA = with_libdeflate(d, zlib, in[i], len[i], a, cluster);
        int okB = with_isal(s, zlib, in[i], len[i], b, cluster);
        failures[0] += !okA; failures[1] += !okB;
        if (okA && okB && memcmp(a, b, cluster) != 0) { fprintf(stderr, "cluster %zu differs\n", i); return 1; }
    }
    fprintf(stderr, "%zu clusters of %zu bytes, %ld compressed bytes; not decoded whole: libdeflate %zu, isal %zu\n",
            count, cluster, size - 4 * (long)count, failures[0], failures[1]);
    for (int r = 0; r < 2 * rounds; r++) {
        int isal = (r % 4 == 1 || r % 4 == 2); /* L I I L L I I L ...: alternating, each first half the time */
        double start = now();
        for (size_t i = 0; i < count; i++) {
            if (isal) with_isal(s, zlib, in[i], len[i], b, cluster);
            else with_libdeflate(d, zlib, in[i], len[i], a, cluster);
        }
        printf("%s %.6f\n", isal ? "isal" : "libdeflate", now() - start);
    }
    return 0;
}
