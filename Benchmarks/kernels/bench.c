// Kernel micro-benchmark and quick cross-check, built directly against the C sources:
//   Benchmarks/kernels/build.sh && /tmp/swiftlet-kbench [threads]
// Prints effective weight-streaming bandwidth (m = 1) and GOP/s (2*m*N*K / time) as medians.
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw_attention.h"
#include "sw_cpu.h"
#include "sw_dnnl.h"
#include "sw_gemm_f32.h"
#include "sw_ops.h"
#include "sw_pool.h"
#include "sw_quant.h"
#include "sw_quant_test_hooks.h"
#include "sw_sampling.h"
#include "bench_random.h"

// With BENCH_CPUTIME=1 (single-thread runs only) time is process CPU time, which excludes the
// periods the benchmark is descheduled on a shared machine.
static clockid_t g_clock = CLOCK_MONOTONIC;
static double now_s(void) {
    struct timespec ts;
    clock_gettime(g_clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}


static void *make_weights(sw_qtype t, int N, int K) {
    size_t bb = sw_qtype_block_bytes(t), nb = (size_t)N * (K / 32);
    uint8_t *w = malloc(bb * nb);
    for (size_t b = 0; b < nb; b++) {
        uint8_t *p = w + b * bb;
        uint16_t d = sw_f32_to_f16_1(0.001f + 0.01f * (rnd() % 100) / 100.0f);
        memcpy(p, &d, 2);
        size_t off = 2;
        if (t == SW_QTYPE_Q4_1) {
            uint16_t m = sw_f32_to_f16_1(-0.08f * (rnd() % 100) / 100.0f);
            memcpy(p + 2, &m, 2);
            off = 4;
        }
        for (size_t j = off; j < bb; j++) p[j] = (uint8_t)rnd();
        if (t == SW_QTYPE_Q8_0)
            for (size_t j = off; j < bb; j++)
                if (p[j] == 0x80) p[j] = 0x81;
    }
    return w;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef void (*run_fn)(void *);
static double g_min;
static double median_time(run_fn f, void *arg, double min_total) {
    double ts[101];
    int n = 0;
    double t_start = now_s();
    f(arg);  // warm-up
    while (n < 101 && (n < 7 || now_s() - t_start < min_total)) {
        double t0 = now_s();
        f(arg);
        ts[n++] = now_s() - t0;
    }
    qsort(ts, n, sizeof(double), cmp_d);
    g_min = ts[0];
    return ts[n / 2];
}

typedef struct {
    sw_pool *pool;
    sw_qtype t;
    const void *W, *P;  // P: packed W (as models hold it), or NULL
    int N, K, m;
    const void *Xq;
    float *Y;
    const uint16_t *Wb;
    const float *X;
} gargs;

static void run_q(void *a) {
    gargs *g = a;
    sw_gemm_qp(g->pool, g->t, g->W, g->P, g->N, g->K, g->Xq, g->m, g->Y, g->N);
}
static void run_b(void *a) {
    gargs *g = a;
    sw_gemm_bf16(g->pool, g->Wb, g->N, g->K, g->X, g->K, g->m, g->Y, g->N);
}
static void noop(void *ctx, int i, int n) { (void)ctx; (void)i; (void)n; }
static void run_pool(void *a) {
    for (int i = 0; i < 1000; i++) sw_pool_run((sw_pool *)a, noop, NULL);
}
// ~1 us of register-only work per index, so the worker really has to join the region.
static _Atomic int g_worker_joined;
static void spin1us(void *ctx, int i, int n) {
    (void)ctx;
    (void)n;
    double t0 = now_s();
    while (now_s() - t0 < 1e-6) {}
    if (i == 1) g_worker_joined++;
}
static void run_pool_work(void *a) {
    for (int i = 0; i < 1000; i++) sw_pool_run((sw_pool *)a, spin1us, NULL);
}

static const char *tname(sw_qtype t) { return t == SW_QTYPE_Q8_0 ? "Q8_0" : t == SW_QTYPE_Q4_0 ? "Q4_0" : "Q4_1"; }

static double check(sw_qtype t, int N, int K, int m) {
    void *W = make_weights(t, N, K);
    float *X = malloc(sizeof(float) * m * K);
    for (int i = 0; i < m * K; i++) X[i] = frnd();
    void *Xq = malloc(sw_q8a_row_bytes(K) * m);
    sw_quantize_rows_q8a(X, K, m, K, Xq);
    float *Y = malloc(sizeof(float) * m * N), *R = malloc(sizeof(float) * m * N);
    sw_gemm_q(NULL, t, W, N, K, Xq, m, Y, N);
    sw_gemm_q_ref(t, W, N, K, Xq, m, R, N);
    double num = 0, den = 0;
    for (int i = 0; i < m * N; i++) {
        num += (Y[i] - R[i]) * (double)(Y[i] - R[i]);
        den += R[i] * (double)R[i];
    }
    free(W); free(X); free(Xq); free(Y); free(R);
    return sqrt(num / (den + 1e-30));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("BENCH_CPUTIME") && atoi(getenv("BENCH_CPUTIME"))) g_clock = CLOCK_PROCESS_CPUTIME_ID;
    int nth = argc > 1 ? atoi(argv[1]) : 2;
    const char *mode = argc > 2 ? argv[2] : "all";
    int only_check = strcmp(mode, "check") == 0;
    int do_q = !strcmp(mode, "all") || !strcmp(mode, "q");
    int do_b = !strcmp(mode, "all") || !strcmp(mode, "bf16");
    int nshapes = argc > 3 ? atoi(argv[3]) : 3;
    printf("kernel level: %s\n", sw_cpu_level_name(sw_cpu_level()));
    // BENCH_AVX2_VNNI_EVEX=1: quantized matmuls at the AVX2 level run the AVX-VNNI kernel body in
    // its EVEX twin (a test hook, sw_quant_test_hooks.h), to indicate what AVX-VNNI CPUs gain.
    if (getenv("BENCH_AVX2_VNNI_EVEX") && atoi(getenv("BENCH_AVX2_VNNI_EVEX"))) {
        if (sw_quant_test_use_avx2_vnni_evex(1) < 0) {
            fprintf(stderr, "BENCH_AVX2_VNNI_EVEX: this CPU lacks AVX512-VNNI + VL\n");
            return 1;
        }
        printf("AVX2-level quantized kernel: AVX-VNNI body, EVEX twin (test hook)\n");
    }
    double worst = 0;
    if (strcmp(mode, "all") == 0 || only_check) {
    int ms[] = {1, 2, 3, 5, 8, 17, 32};
    int Ns[] = {16, 48, 592, 40};
    int Ks[] = {32, 64, 576, 1536};
    for (int t = 0; t < 3; t++)
        for (int a = 0; a < 7; a++)
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 4; c++) {
                    double e = check((sw_qtype)t, Ns[b], Ks[c], ms[a]);
                    if (e > worst) worst = e;
                    if (e > 1e-5) printf("MISMATCH %s m=%d N=%d K=%d rel=%g\n", tname(t), ms[a], Ns[b], Ks[c], e);
                }
    printf("worst SIMD-vs-ref relative error: %g\n", worst);
    worst = 0;
    int bK[] = {32, 48, 576, 1000, 7};
    for (int a = 0; a < 7; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 5; c++) {
                int N = Ns[b], K = bK[c], m = ms[a];
                uint16_t *Wb = malloc(2 * (size_t)N * K);
                for (int i = 0; i < N * K; i++) Wb[i] = (uint16_t)(0x3c00 + (rnd() & 0x3ff)) ^ (rnd() & 0x8000);
                float *X = malloc(sizeof(float) * m * K);
                for (int i = 0; i < m * K; i++) X[i] = frnd();
                float *Y = malloc(sizeof(float) * m * N), *R = malloc(sizeof(float) * m * N);
                sw_gemm_bf16(NULL, Wb, N, K, X, K, m, Y, N);
                int prev = sw_cpu_set_level(SW_ISA_SCALAR);
                sw_gemm_bf16(NULL, Wb, N, K, X, K, m, R, N);
                sw_cpu_set_level(prev);
                double num = 0, den = 0;
                for (int i = 0; i < m * N; i++) {
                    num += (Y[i] - R[i]) * (double)(Y[i] - R[i]);
                    den += R[i] * (double)R[i];
                }
                double e = sqrt(num / (den + 1e-30));
                if (e > worst) worst = e;
                if (e > 1e-5) printf("BF16 MISMATCH m=%d N=%d K=%d rel=%g\n", m, N, K, e);
                free(Wb); free(X); free(Y); free(R);
            }
    printf("worst bf16 SIMD-vs-scalar relative error: %g\n", worst);
    }
    if (only_check) return 0;

    sw_pool *pool = sw_pool_create(nth);
    printf("threads: %d\n", sw_pool_size(pool));
    double tp = median_time(run_pool, pool, 0.5);
    printf("empty parallel region: median %.3f us, best %.3f us\n", tp / 1000 * 1e6, g_min / 1000 * 1e6);
    tp = median_time(run_pool_work, pool, 0.5);
    printf("region with 1 us of work per thread: median %.3f us, best %.3f us (overhead = minus 1 us)\n",
           tp / 1000 * 1e6, g_min / 1000 * 1e6);

    struct { int N, K; } shapes[] = {{1536, 576}, {49152, 576}, {4096, 4096}};
    // Batch sizes of the quantized runs: BENCH_MS="1,32,512" overrides the default 1, 4, 32.
    int mlist[16] = {1, 4, 32}, nms = 3;
    if (getenv("BENCH_MS")) {
        nms = 0;
        for (const char *p = getenv("BENCH_MS"); *p && nms < 16; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
            if (atoi(p) > 0) mlist[nms++] = atoi(p);
    }
    for (int s = 0; s < nshapes; s++) {
        int N = shapes[s].N, K = shapes[s].K;
        for (int t = 0; t < 3 && do_q; t++) {
            void *W = make_weights((sw_qtype)t, N, K);
            size_t wbytes = sw_qtype_block_bytes((sw_qtype)t) * (size_t)N * (K / 32);
            const size_t pbytes = sw_qpack_bytes((sw_qtype)t, N, K);
            void *P = pbytes ? aligned_alloc(64, (pbytes + 63) & ~(size_t)63) : NULL;
            if (P) sw_qpack((sw_qtype)t, W, N, K, P);
            for (int mi = 0; mi < nms; mi++) {
                int m = mlist[mi];
                float *X = malloc(sizeof(float) * m * K);
                for (int i = 0; i < m * K; i++) X[i] = frnd();
                void *Xq = malloc(sw_q8a_row_bytes(K) * m);
                sw_quantize_rows_q8a(X, K, m, K, Xq);
                float *Y = malloc(sizeof(float) * m * N);
                gargs g = {pool, (sw_qtype)t, W, P, N, K, m, Xq, Y, NULL, NULL};
                double tm = median_time(run_q, &g, 1.0);
                printf("%s N=%5d K=%4d m=%2d: median %8.1f us %6.1f GB/s %6.1f GOP/s | best %6.1f GB/s %6.1f GOP/s\n",
                       tname(t), N, K, m, tm * 1e6, wbytes / tm / 1e9, 2.0 * m * N * K / tm / 1e9,
                       wbytes / g_min / 1e9, 2.0 * m * N * K / g_min / 1e9);
                free(X); free(Xq); free(Y);
            }
            free(W); free(P);
        }
        if (do_b) {
            uint16_t *Wb = malloc(2 * (size_t)N * K);
            for (size_t i = 0; i < (size_t)N * K; i++) Wb[i] = (uint16_t)(0x3c00 + (rnd() & 0x3ff)) ^ (rnd() & 0x8000);
            int mlist[] = {1, 4, 32};
            for (int mi = 0; mi < 3; mi++) {
                int m = mlist[mi];
                float *X = malloc(sizeof(float) * m * K);
                for (int i = 0; i < m * K; i++) X[i] = frnd();
                float *Y = malloc(sizeof(float) * m * N);
                gargs g = {pool, 0, NULL, NULL, N, K, m, NULL, Y, Wb, X};
                double tm = median_time(run_b, &g, 1.0);
                printf("BF16 N=%5d K=%4d m=%2d: median %8.1f us %6.1f GB/s %6.1f GFLOP/s | best %6.1f GB/s %6.1f GFLOP/s\n",
                       N, K, m, tm * 1e6, 2.0 * N * K / tm / 1e9, 2.0 * m * N * K / tm / 1e9,
                       2.0 * N * K / g_min / 1e9, 2.0 * m * N * K / g_min / 1e9);
                free(X); free(Y);
            }
            free(Wb);
        }
    }
    sw_pool_destroy(pool);
    return 0;
}
