// Q5_0 / Q5_1 / K-quant matmuls (sw_kquant.h) timed beside the packed Q8_0 matmul that the same weights
// took before (requantized to Q8_0 at load), and a cross-check of every level against scalar:
//   Benchmarks/kernels/build.sh && /tmp/swiftlet-kquant 1 all
//   BENCH_CPUTIME=1 SWIFTLET_ISA=avx2 /tmp/swiftlet-kquant 1 q 2     # threads, mode, #shapes
// Modes: all | q (timings) | check. BENCH_MS="1,32,512" sets the batch sizes (the default);
// BENCH_TYPES="Q2_K,Q4_K" times only those formats (Q8_0 always runs: the times are relative to it).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw_cpu.h"
#include "sw_kquant.h"
#include "sw_pool.h"
#include "sw_quant.h"
#include "bench_random.h"

static clockid_t g_clock = CLOCK_MONOTONIC;
static double now_s(void) {
    struct timespec ts;
    clock_gettime(g_clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *const kq_names[] = {"Q5_0", "Q4_K", "Q5_K", "Q6_K", "Q5_1", "Q2_K", "Q3_K"};
#define KQ_TYPES 7

// Random GGUF blocks with small positive scales (d, dmin) where the format has them; every other
// byte (quants, sub-block scales, high bits) random.
static uint8_t *kq_weights(sw_kqtype t, int N, int K) {
    const size_t bb = sw_kqtype_block_bytes(t), nblk = (size_t)N * (size_t)(K / sw_kqtype_block_elements(t));
    uint8_t *w = malloc(bb * nblk);
    for (size_t b = 0; b < nblk; b++) {
        uint8_t *p = w + b * bb;
        for (size_t j = 0; j < bb; j++) p[j] = (uint8_t)rnd();
        const uint16_t d = sw_f32_to_f16_1(0.0005f + 0.002f * (rnd() % 100) / 100.0f);
        const uint16_t dmin = sw_f32_to_f16_1(0.001f * (rnd() % 100) / 100.0f);
        const size_t at = t == SW_KQ_Q6_K ? 208 : t == SW_KQ_Q2_K ? 80 : t == SW_KQ_Q3_K ? 108 : 0;
        memcpy(p + at, &d, 2);
        if (t == SW_KQ_Q4_K || t == SW_KQ_Q5_K || t == SW_KQ_Q5_1 || t == SW_KQ_Q2_K) memcpy(p + at + 2, &dmin, 2);
    }
    return w;
}

// Whether BENCH_TYPES (a comma-separated list of names; all when unset) names format t.
static int wanted(sw_kqtype t) {
    const char *list = getenv("BENCH_TYPES");
    if (!list || !*list) return 1;
    const size_t n = strlen(kq_names[t]);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (!strncmp(p, kq_names[t], n) && (p[n] == ',' || p[n] == 0)) return 1;
    return 0;
}

static uint8_t *q8_weights(int N, int K) {
    const size_t nblk = (size_t)N * (size_t)(K / 32);
    uint8_t *w = malloc(34 * nblk);
    for (size_t b = 0; b < nblk; b++) {
        uint16_t d = sw_f32_to_f16_1(0.001f + 0.01f * (rnd() % 100) / 100.0f);
        memcpy(w + 34 * b, &d, 2);
        for (int j = 2; j < 34; j++) w[34 * b + j] = (uint8_t)(rnd() % 255 + 1);  // never -128
    }
    return w;
}

static void *packed(size_t bytes) { return aligned_alloc(64, (bytes + 63) & ~(size_t)63); }

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    sw_pool *pool;
    int kq;  // -1: Q8_0 through sw_gemm_qp, else an sw_kqtype
    const void *P;
    int N, K, m;
    const void *Xq;
    float *Y;
} run_args;

static void run(const run_args *a) {
    if (a->kq < 0) sw_gemm_qp(a->pool, SW_QTYPE_Q8_0, NULL, a->P, a->N, a->K, a->Xq, a->m, a->Y, (size_t)a->N);
    else sw_gemm_kqp(a->pool, (sw_kqtype)a->kq, a->P, a->N, a->K, a->Xq, a->m, a->Y, (size_t)a->N);
}

// Median and best of repeated runs (at least 7, for at least min_total seconds).
static void time_runs(const run_args *a, double min_total, double *median, double *best) {
    double ts[101];
    int n = 0;
    run(a);
    const double start = now_s();
    while (n < 101 && (n < 7 || now_s() - start < min_total)) {
        const double t0 = now_s();
        run(a);
        ts[n++] = now_s() - t0;
    }
    qsort(ts, (size_t)n, sizeof(double), cmp_d);
    *median = ts[n / 2];
    *best = ts[0];
}

// Every level this CPU has against the scalar level, on the same packed weights; also whether
// row 0 alone gives the bits it gets inside the batch. Returns the number of failures.
static int check(void) {
    static const int shapes[][3] = {{70, 256, 7}, {33, 512, 1}, {96, 1536, 37}, {40, 2304, 13}};
    int failures = 0;
    const int top = sw_cpu_max_level();
    for (int t = 0; t < KQ_TYPES; t++) {
        for (int s = 0; s < 4; s++) {
            const int N = shapes[s][0], K = shapes[s][1], m = shapes[s][2];
            uint8_t *W = kq_weights((sw_kqtype)t, N, K);
            void *P = packed(sw_kqpack_bytes((sw_kqtype)t, N, K));
            sw_kqpack((sw_kqtype)t, W, N, K, P);
            float *X = malloc(sizeof(float) * (size_t)m * K);
            for (int i = 0; i < m * K; i++) X[i] = frnd();
            void *Xq = malloc(sw_q8a_row_bytes(K) * (size_t)m);
            sw_quantize_rows_q8a(X, (size_t)K, m, K, Xq);
            float *R = malloc(sizeof(float) * (size_t)m * N), *Y = malloc(sizeof(float) * (size_t)m * N);
            float *one = malloc(sizeof(float) * (size_t)N);
            const int prev = sw_cpu_set_thread_level(SW_ISA_SCALAR);
            sw_gemm_kqp(NULL, (sw_kqtype)t, P, N, K, Xq, m, R, (size_t)N);
            for (int level = 1; level <= top; level++) {
                sw_cpu_set_thread_level(level);
                if (sw_cpu_level() != level) continue;  // clamped: this CPU lacks the level
                sw_gemm_kqp(NULL, (sw_kqtype)t, P, N, K, Xq, m, Y, (size_t)N);
                sw_gemm_kqp(NULL, (sw_kqtype)t, P, N, K, Xq, 1, one, (size_t)N);
                double num = 0, den = 0;
                for (int i = 0; i < m * N; i++) {
                    num += (Y[i] - R[i]) * (double)(Y[i] - R[i]);
                    den += R[i] * (double)R[i];
                }
                const double e = sqrt(num / (den + 1e-30));
                const int same = memcmp(one, Y, sizeof(float) * (size_t)N) == 0;
                printf("%s %-6s N=%3d K=%4d m=%2d: rel. error vs scalar %.3g, row 0 alone %s\n", kq_names[t],
                       sw_cpu_level_name(level), N, K, m, e, same ? "bit-identical" : "DIFFERS");
                failures += e > 1e-5 || !same;
            }
            sw_cpu_set_thread_level(prev);
            free(W); free(P); free(X); free(Xq); free(R); free(Y); free(one);
        }
    }
    return failures;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("BENCH_CPUTIME") && atoi(getenv("BENCH_CPUTIME"))) g_clock = CLOCK_PROCESS_CPUTIME_ID;
    const int nth = argc > 1 ? atoi(argv[1]) : 1;
    const char *mode = argc > 2 ? argv[2] : "all";
    const int nshapes = argc > 3 ? atoi(argv[3]) : 3;
    printf("kernel level: %s\n", sw_cpu_level_name(sw_cpu_level()));
    if (!strcmp(mode, "all") || !strcmp(mode, "check")) {
        const int failures = check();
        printf("check: %d failure(s)\n", failures);
        if (failures) return 1;
    }
    if (strcmp(mode, "all") && strcmp(mode, "q")) return 0;

    int ms[16] = {1, 32, 512}, nms = 3;
    if (getenv("BENCH_MS")) {
        nms = 0;
        for (const char *p = getenv("BENCH_MS"); *p && nms < 16; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
            if (atoi(p) > 0) ms[nms++] = atoi(p);
    }
    sw_pool *pool = sw_pool_create(nth);
    printf("threads: %d\n", sw_pool_size(pool));
    // SmolLM2-135M's projections (576 -> 1536) and a 7B-sized square, as in bench.c; K-quants
    // need K % 256 == 0 (576 is not: 768 stands in).
    static const int shapes[][2] = {{1536, 768}, {2048, 2048}, {4096, 4096}};
    for (int s = 0; s < nshapes && s < 3; s++) {
        const int N = shapes[s][0], K = shapes[s][1];
        for (int mi = 0; mi < nms; mi++) {
            const int m = ms[mi];
            float *X = malloc(sizeof(float) * (size_t)m * K);
            for (int i = 0; i < m * K; i++) X[i] = frnd();
            void *Xq = malloc(sw_q8a_row_bytes(K) * (size_t)m);
            sw_quantize_rows_q8a(X, (size_t)K, m, K, Xq);
            float *Y = malloc(sizeof(float) * (size_t)m * N);
            double q8_median = 0;
            for (int t = -1; t < KQ_TYPES; t++) {
                if (t >= 0 && !wanted((sw_kqtype)t)) continue;
                size_t file_bytes, pb;
                void *P;
                if (t < 0) {
                    uint8_t *W = q8_weights(N, K);
                    file_bytes = 34 * (size_t)N * (K / 32);
                    pb = sw_qpack_bytes(SW_QTYPE_Q8_0, N, K);
                    P = packed(pb);
                    sw_qpack(SW_QTYPE_Q8_0, W, N, K, P);
                    free(W);
                } else {
                    uint8_t *W = kq_weights((sw_kqtype)t, N, K);
                    file_bytes = sw_kqtype_block_bytes((sw_kqtype)t) * (size_t)N * (K / sw_kqtype_block_elements((sw_kqtype)t));
                    pb = sw_kqpack_bytes((sw_kqtype)t, N, K);
                    P = packed(pb);
                    sw_kqpack((sw_kqtype)t, W, N, K, P);
                    free(W);
                }
                run_args a = {pool, t, P, N, K, m, Xq, Y};
                double median, best;
                time_runs(&a, m >= 256 ? 2.0 : 1.0, &median, &best);
                if (t < 0) q8_median = median;
                printf("%s N=%4d K=%4d m=%3d: median %9.1f us %6.1f GOP/s %6.1f GB/s | best %6.1f GOP/s | %5.2f x Q8_0 time | packed/file bytes %.3f\n",
                       t < 0 ? "Q8_0" : kq_names[t], N, K, m, median * 1e6, 2.0 * m * N * K / median / 1e9,
                       pb / median / 1e9, 2.0 * m * N * K / best / 1e9, median / q8_median, (double)pb / (double)file_bytes);
                free(P);
            }
            free(X); free(Xq); free(Y);
        }
    }
    sw_pool_destroy(pool);
    return 0;
}
