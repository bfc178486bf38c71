// The Q5_0 / K-quant matmul's entry point and parallel driver: packed tiles handed to the kernel
// of the caller's level (sw_kquant_scalar.c, sw_kquant_avx2.c, sw_kquant_avx512.c,
// sw_kquant_neon.c), split over threads like sw_quant.c's.
#include "sw_kquant.h"
#include "sw_cpu.h"
#include "sw_kquant_impl.h"
#include "sw_sched.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    sw_kqtype type;
    const uint8_t *P;
    int N, K;
    const uint8_t *Xq;
    int m;
    float *Y;
    size_t ldy;
    const int16_t *xlo;
    int level;   // the caller's level (workers must not ask sw_cpu_level themselves)
    int dotprod;
    swi_sched sched;
} kq_ctx;

static void kq_task(void *arg, int ith, int nth) {
    (void)nth;
    kq_ctx *c = (kq_ctx *)arg;
    const size_t tb = (size_t)(c->K / 32 / swi_kq_rec_blocks(c->type)) * swi_kq_rec_bytes(c->type);
    int r = ith % c->sched.nr, visited = 0, t0, t1;
    while (swi_sched_next(&c->sched, &r, &visited, &t0, &t1)) {
        for (int t = t0; t < t1; t++) {
            const int n0 = t * 32, nr = c->N - n0 < 32 ? c->N - n0 : 32;
            const uint8_t *tile = c->P + (size_t)t * tb;
            float *y = c->Y + n0;
            switch (c->level) {
                case SW_ISA_AVX512: swi_kqtile_avx512(c->type, tile, nr, c->K, c->Xq, c->m, y, c->ldy, c->xlo); break;
                case SW_ISA_AVX2: swi_kqtile_avx2(c->type, tile, nr, c->K, c->Xq, c->m, y, c->ldy, c->xlo); break;
#if defined(__aarch64__)
                case SW_ISA_NEON:
                    swi_kqtile_neon(c->type, tile, nr, c->K, c->Xq, c->m, y, c->ldy, c->xlo, c->dotprod);
                    break;
#endif
                default: swi_kqtile_scalar(c->type, tile, nr, c->K, c->Xq, c->m, y, c->ldy, c->xlo); break;
            }
        }
    }
}

// Activation rows per pass over the weights, as in sw_quant.c: a pass's rows stay in L2.
#define KQ_MC 256

void sw_gemm_kqp(sw_pool *pool, sw_kqtype type, const void *P, int N, int K, const void *Xq, int m,
                 float *Y, size_t ldy) {
    if (N <= 0 || m <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < m; i++) memset(Y + (size_t)i * ldy, 0, (size_t)N * sizeof(float));
        return;
    }
    const size_t xrb = sw_q8a_row_bytes(K);
    if (m > KQ_MC) {
        for (int i0 = 0; i0 < m; i0 += KQ_MC) {
            const int mc = m - i0 < KQ_MC ? m - i0 : KQ_MC;
            sw_gemm_kqp(pool, type, P, N, K, (const uint8_t *)Xq + (size_t)i0 * xrb, mc, Y + (size_t)i0 * ldy, ldy);
        }
        return;
    }
    const int nb = K / 32;
    // Q2_K's, Q3_K's and Q6_K's scales cover 16 elements, so their offset and min corrections
    // need the activations' sums over each half block; computed once here for every tile.
    int16_t stack_lo[2048];
    int16_t *xlo = NULL;
    if (swi_kq_has_halves(type)) {
        const size_t count = (size_t)m * (size_t)nb;
        xlo = count <= sizeof stack_lo / sizeof stack_lo[0] ? stack_lo : (int16_t *)malloc(count * sizeof(int16_t));
        if (!xlo) abort();
        for (int i = 0; i < m; i++) {
            const sw_block_q8a *xb = (const sw_block_q8a *)((const uint8_t *)Xq + (size_t)i * xrb);
            for (int b = 0; b < nb; b++) {
                int s = 0;
                for (int j = 0; j < 16; j++) s += xb[b].qs[j];
                xlo[(size_t)i * nb + b] = (int16_t)s;
            }
        }
    }
    kq_ctx c;
    c.type = type;
    c.P = (const uint8_t *)P;
    c.N = N;
    c.K = K;
    c.Xq = (const uint8_t *)Xq;
    c.m = m;
    c.Y = Y;
    c.ldy = ldy;
    c.xlo = xlo;
    c.level = sw_cpu_level();
#if defined(__aarch64__)
    c.dotprod = sw_cpu_use_neon_dotprod();
#else
    c.dotprod = 0;
#endif
    // Roughly >= 64K multiply-adds per hand-out, as in sw_quant.c.
    const long work = 32L * K * (m < 4 ? 4 : m);
    const int ntiles = (N + 31) / 32;
    const int nthreads = pool ? sw_pool_size(pool) : 1;
    swi_sched_init(&c.sched, ntiles, nthreads, (int)((65536 + work - 1) / work));
    if (nthreads > 1 && ntiles > 1) sw_pool_run(pool, kq_task, &c);
    else kq_task(&c, 0, 1);
    if (xlo && xlo != stack_lo) free(xlo);
}
