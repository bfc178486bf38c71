// The bf16 matmul: activations' copy in the kernels' order, the parallel driver, and the scalar
// kernel (sw_bf16_avx2.c, sw_quant_avx512.c and sw_quant_neon.c hold the SIMD ones).
#include "sw_quant.h"
#include "sw_cpu.h"
#include "sw_quant_impl.h"
#include "sw_quant_neon.h"
#include "sw_sched.h"

#include <stdlib.h>
#include <string.h>

// Rows per work item.
#define SW_BF16_TILE 16

// Activations are copied once per call into Kp-float rows (Kp = K rounded up to 32, zero
// padded) where each 32-chunk is stored as its 16 even elements followed by its 16 odd ones,
// matching how the SIMD kernel widens bf16 weight pairs.
typedef struct {
    const uint16_t *W;
    int N, K;
    const float *Xs;
    int Kp;
    int m;
    float *Y;
    size_t ldy;
    int level;
    swi_sched sched;
} bgemm_ctx;

static void bf16_rows_ref(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                          float *Y, size_t ldy) {
    for (int r = 0; r < nrows; r++) {
        const uint16_t *w = W + (size_t)r * K;
        for (int i = 0; i < m; i++) {
            const float *x = Xs + (size_t)i * Kp;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) {
                const int c = k & ~31, j = k & 31;
                acc += swi_bf16_to_f32_1(w[k]) * x[c + (j >> 1) + ((j & 1) << 4)];
            }
            Y[(size_t)i * ldy + r] = acc;
        }
    }
}

static void bgemm_task(void *arg, int ith, int nth) {
    (void)nth;
    bgemm_ctx *c = (bgemm_ctx *)arg;
    int r = ith % c->sched.nr, visited = 0, t0, t1;
    while (swi_sched_next(&c->sched, &r, &visited, &t0, &t1)) {
        for (int t = t0; t < t1; t++) {
            const int n0 = t * SW_BF16_TILE;
            const int nr = c->N - n0 < SW_BF16_TILE ? c->N - n0 : SW_BF16_TILE;
            const uint16_t *w = c->W + (size_t)n0 * (size_t)c->K;
            if (c->level == SW_ISA_AVX512) {
                swi_bf16_rows_avx512(w, c->K, nr, c->Xs, c->Kp, c->m, c->Y + n0, c->ldy, c->N - n0 - nr);
            } else if (c->level == SW_ISA_AVX2) {
                swi_bf16_rows_avx2(w, c->K, nr, c->Xs, c->Kp, c->m, c->Y + n0, c->ldy, c->N - n0 - nr);
#if defined(__aarch64__)
            } else if (c->level == SW_ISA_NEON) {
                swi_bf16_rows_neon(w, c->K, nr, c->Xs, c->Kp, c->m, c->Y + n0, c->ldy);
#endif
            } else {
                bf16_rows_ref(w, c->K, nr, c->Xs, c->Kp, c->m, c->Y + n0, c->ldy);
            }
        }
    }
}

void sw_gemm_bf16(sw_pool *pool, const uint16_t *W, int N, int K, const float *X, size_t ldx,
                  int m, float *Y, size_t ldy) {
    if (N <= 0 || m <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < m; i++) memset(Y + (size_t)i * ldy, 0, (size_t)N * sizeof(float));
        return;
    }
    const int Kp = (K + 31) & ~31;
    float *Xs = (float *)aligned_alloc(64, (size_t)m * (size_t)Kp * sizeof(float));
    if (!Xs) abort();
    for (int i = 0; i < m; i++) {
        const float *x = X + (size_t)i * ldx;
        float *xs = Xs + (size_t)i * Kp;
        for (int c = 0; c < Kp; c += 32) {
            for (int j = 0; j < 16; j++) {
                xs[c + j] = c + 2 * j < K ? x[c + 2 * j] : 0.0f;
                xs[c + 16 + j] = c + 2 * j + 1 < K ? x[c + 2 * j + 1] : 0.0f;
            }
        }
    }
    bgemm_ctx c;
    c.W = W;
    c.N = N;
    c.K = K;
    c.Xs = Xs;
    c.Kp = Kp;
    c.m = m;
    c.Y = Y;
    c.ldy = ldy;
    c.level = sw_cpu_level();
    const int nthreads = pool ? sw_pool_size(pool) : 1;
    const long work = (long)SW_BF16_TILE * Kp * (m < 4 ? 4 : m);
    swi_sched_init(&c.sched, (N + SW_BF16_TILE - 1) / SW_BF16_TILE, nthreads, (int)((65536 + work - 1) / work));
    if (nthreads > 1 && N > SW_BF16_TILE) {
        sw_pool_run(pool, bgemm_task, &c);
    } else {
        bgemm_task(&c, 0, 1);
    }
    free(Xs);
}
