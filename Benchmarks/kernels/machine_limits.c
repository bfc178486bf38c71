// The machine limits docs/benchmarks.md quotes, measured directly:
//   machine_limits peak THREADS        vpdpbusd and fp32 FMA instructions per second per thread
//                                      (12 independent chains each, so throughput, not latency)
//   machine_limits read THREADS BYTES  read bandwidth over 1 GiB in BYTES-sized chunks visited in
//                                      random order (2048: one kv head's bf16 block at head_dim
//                                      64 and block size 16); BYTES >= 1 MiB is a plain stream
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOTAL ((size_t)1 << 30)
#define ITERS 200000000L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static volatile float g_sink;
static int g_fma;                 // peak: 0 = vpdpbusd, 1 = vfmadd231ps
static char *g_buf;
static size_t g_chunk;
static int g_threads;
static double g_seconds[64];

__attribute__((target("avx512f,avx512vnni"))) static void *peak(void *arg) {
    const long id = (long)arg;
    __m512i acc[12];
    __m512 f[12];
    for (int i = 0; i < 12; i++) {
        acc[i] = _mm512_set1_epi32(i);
        f[i] = _mm512_set1_ps((float)i);
    }
    const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(5);
    const __m512 m = _mm512_set1_ps(1.0001f);
    const double t0 = now();
    if (!g_fma) {
        for (long i = 0; i < ITERS / 12; i++)
            for (int j = 0; j < 12; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], x, y);
    } else {
        for (long i = 0; i < ITERS / 12; i++)
            for (int j = 0; j < 12; j++) f[j] = _mm512_fmadd_ps(f[j], m, m);
    }
    g_seconds[id] = now() - t0;
    float s = 0;
    for (int i = 0; i < 12; i++) s += (float)_mm512_reduce_add_epi32(acc[i]) + _mm512_reduce_add_ps(f[i]);
    g_sink = s;
    return NULL;
}

__attribute__((target("avx512f"))) static void *reader(void *arg) {
    const long id = (long)arg;
    const size_t n = TOTAL / g_chunk, per = n / (size_t)g_threads, lo = (size_t)id * per;
    size_t *order = malloc(sizeof(size_t) * per);
    unsigned s = 12345u + 77u * (unsigned)id;
    for (size_t i = 0; i < per; i++) {
        s = s * 1103515245u + 12345u;
        order[i] = g_chunk >= ((size_t)1 << 20) ? lo + i : ((size_t)s * 2654435761u) % n;
    }
    __m512 acc = _mm512_setzero_ps();
    const double t0 = now();
    for (size_t i = 0; i < per; i++) {
        const char *p = g_buf + order[i] * g_chunk;
        for (size_t o = 0; o < g_chunk; o += 64) acc = _mm512_add_ps(acc, _mm512_load_ps((const float *)(p + o)));
    }
    g_seconds[id] = now() - t0;
    g_sink = _mm512_reduce_add_ps(acc);
    free(order);
    return NULL;
}

static void run(void *(*fn)(void *)) {
    pthread_t t[64];
    for (long i = 0; i < g_threads; i++) pthread_create(&t[i], NULL, fn, (void *)i);
    for (int i = 0; i < g_threads; i++) pthread_join(t[i], NULL);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "peak";
    g_threads = argc > 2 ? atoi(argv[2]) : 1;
    if (g_threads < 1 || g_threads > 64) g_threads = 1;
    if (!strcmp(mode, "peak")) {
        for (g_fma = 0; g_fma < 2; g_fma++) {
            run(peak);
            for (int i = 0; i < g_threads; i++)
                printf("%s, thread %d: %.2f G instructions/s\n", g_fma ? "vfmadd231ps zmm" : "vpdpbusd zmm", i,
                       ITERS / g_seconds[i] / 1e9);
        }
        return 0;
    }
    g_chunk = argc > 3 ? (size_t)atol(argv[3]) : 2048;
    if (g_chunk < 64 || g_chunk % 64) g_chunk = 2048;
    g_buf = aligned_alloc(4096, TOTAL);
    memset(g_buf, 1, TOTAL);
    for (int r = 0; r < 3; r++) {
        run(reader);
        double slowest = 0;
        for (int i = 0; i < g_threads; i++) slowest = g_seconds[i] > slowest ? g_seconds[i] : slowest;
        const size_t bytes = TOTAL / g_chunk / (size_t)g_threads * g_chunk * (size_t)g_threads;
        printf("%d threads, %zu-byte chunks: %.1f GB/s\n", g_threads, g_chunk, bytes / slowest / 1e9);
    }
    return 0;
}
