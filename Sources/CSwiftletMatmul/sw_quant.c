// The quantized matmul's entry points and parallel driver: packing, then packed tiles handed to
// the kernel of the caller's level (sw_qpack.c scalar, sw_quant_avx2.c, sw_quant_avxvnni.c,
// sw_quant_avx512.c, sw_quant_neon*.c), or unpacked rows to the reference (sw_quant_ref.c).
#include "sw_quant.h"
#include "sw_cpu.h"
#include "sw_quant_impl.h"
#include "sw_quant_neon.h"
#include "sw_sched.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    sw_qtype type;
    const uint8_t *W;
    const uint8_t *P;  // packed W, or NULL for the unpacked reference path
    int N, K;
    const uint8_t *Xq;
    int m;
    float *Y;
    size_t ldy;
    int level;  // the caller's kernel level (workers must not ask sw_cpu_level themselves)
    int vnni;   // at the AVX2 level: swi_avx2_vnni_variant() of the caller
    swi_sched sched;
} qgemm_ctx;

static void qgemm_task(void *arg, int ith, int nth) {
    (void)nth;
    qgemm_ctx *c = (qgemm_ctx *)arg;
    // Bytes of one packed 32-row tile.
    const size_t tb = (size_t)(c->K / 32) * swi_qrec_bytes(c->type);
    const int ntiles = (c->N + SW_QTILE - 1) / SW_QTILE;
    int r = ith % c->sched.nr, visited = 0, t0, t1;
    while (swi_sched_next(&c->sched, &r, &visited, &t0, &t1)) {
        for (int t = t0; t < t1; t++) {
            const int n0 = t * SW_QTILE;
            const int nr = c->N - n0 < SW_QTILE ? c->N - n0 : SW_QTILE;
            const uint8_t *tile = c->P ? c->P + (size_t)t * tb : NULL;
            // Prefetch the following tile: usually this thread's next one.
            const uint8_t *pf = tile && t + 1 < ntiles ? tile + tb : NULL;
#if defined(__aarch64__)
            // dotprod and i8mm are process-wide switches (not per thread), so workers may read them.
            if (c->level == SW_ISA_NEON) {
                if (tile && c->m >= SWI_I8MM_MIN_M && sw_cpu_use_neon_i8mm() && sw_cpu_use_neon_dotprod())
                    swi_qtile_neon_i8mm(c->type, tile, nr, c->K, c->Xq, c->m, c->Y + n0, c->ldy);
                else if (tile) swi_qtile_neon(c->type, tile, nr, c->K, c->Xq, c->m, c->Y + n0, c->ldy, sw_cpu_use_neon_dotprod());
                else swi_qrows_neon(c->type, c->W, n0, n0 + nr, c->K, c->Xq, c->m, c->Y, c->ldy, sw_cpu_use_neon_dotprod());
                continue;
            }
#endif
            if (!tile) {
                swi_qrows_ref(c->type, c->W, n0, n0 + nr, c->K, c->Xq, c->m, c->Y, c->ldy);
            } else if (c->level == SW_ISA_AVX512) {
                swi_qtile_avx512(c->type, tile, nr, c->K, c->Xq, c->m, c->Y + n0, c->ldy, pf, pf ? tb : 0);
            } else if (c->level == SW_ISA_AVX2 && c->vnni) {
                swi_qtile_avxvnni(c->vnni, c->type, tile, nr, c->K, c->Xq, c->m, c->Y + n0, c->ldy, pf);
            } else if (c->level == SW_ISA_AVX2) {
                swi_qtile_avx2(c->type, tile, nr, c->K, c->Xq, c->m, c->Y + n0, c->ldy, pf, pf ? tb : 0);
            } else {
                swi_qtile_scalar(c->type, tile, nr, c->K, c->Xq, c->m, c->Y + n0, c->ldy);
            }
        }
    }
}

// Activation rows per pass over the weights. Every weight tile reads all rows of its pass, so the
// quantized rows of a pass (about 40 bytes per 32 columns each) must stay in L2: with 2,048 rows
// of 576 columns they do not, and the kernel fell from ~410 to ~290 GOP/s per core.
#ifndef SW_GEMM_MC
#define SW_GEMM_MC 256
#endif

size_t sw_qpack_bytes(sw_qtype type, int N, int K) {
    if (N <= 0 || K <= 0) return 0;
    return (size_t)((N + SW_QTILE - 1) / SW_QTILE) * (size_t)(K / 32) * swi_qrec_bytes(type);
}

void sw_qpack(sw_qtype type, const void *W, int N, int K, void *out) {
    if (sw_qpack_bytes(type, N, K) == 0) return;
    if (sw_cpu_level() == SW_ISA_AVX512) {
        swi_qpack_avx512(type, (const uint8_t *)W, N, K, (uint8_t *)out);
    } else {
        swi_qpack_scalar(type, (const uint8_t *)W, N, K, (uint8_t *)out);
    }
}

static void gemm_qp_level(sw_pool *pool, int level, sw_qtype type, const void *W, const void *P, int N,
                          int K, const void *Xq, int m, float *Y, size_t ldy) {
    if (m > SW_GEMM_MC) {
        const size_t xrb = sw_q8a_row_bytes(K);
        for (int i0 = 0; i0 < m; i0 += SW_GEMM_MC) {
            const int mc = m - i0 < SW_GEMM_MC ? m - i0 : SW_GEMM_MC;
            gemm_qp_level(pool, level, type, W, P, N, K, (const uint8_t *)Xq + (size_t)i0 * xrb, mc,
                          Y + (size_t)i0 * ldy, ldy);
        }
        return;
    }
    qgemm_ctx c;
    c.type = type;
    c.W = (const uint8_t *)W;
    c.P = (const uint8_t *)P;
    c.N = N;
    c.K = K;
    c.Xq = (const uint8_t *)Xq;
    c.m = m;
    c.Y = Y;
    c.ldy = ldy;
    c.level = level;
    c.vnni = level == SW_ISA_AVX2 ? swi_avx2_vnni_variant() : SWI_VNNI_NONE;
    // Keep each hand-out at roughly >= 64K multiply-adds so the shared counters stay cold.
    const long work = (long)SW_QTILE * K * (m < 4 ? 4 : m);
    const int ntiles = (N + SW_QTILE - 1) / SW_QTILE;
    const int nthreads = pool ? sw_pool_size(pool) : 1;
    swi_sched_init(&c.sched, ntiles, nthreads, (int)((65536 + work - 1) / work));
    if (nthreads > 1 && ntiles > 1) {
        sw_pool_run(pool, qgemm_task, &c);
    } else {
        qgemm_task(&c, 0, 1);
    }
}

void sw_gemm_qp(sw_pool *pool, sw_qtype type, const void *W, const void *P, int N, int K,
                const void *Xq, int m, float *Y, size_t ldy) {
    if (N <= 0 || m <= 0) return;
    if (K <= 0) {
        for (int i = 0; i < m; i++) memset(Y + (size_t)i * ldy, 0, (size_t)N * sizeof(float));
        return;
    }
    const int level = sw_cpu_level();
    if (!P && (level == SW_ISA_AVX2 || level == SW_ISA_AVX512)) {
        // The SIMD kernels only read packed tiles.
        const size_t bytes = sw_qpack_bytes(type, N, K);
        void *tmp = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        if (!tmp) abort();
        sw_qpack(type, W, N, K, tmp);
        gemm_qp_level(pool, level, type, W, tmp, N, K, Xq, m, Y, ldy);
        free(tmp);
        return;
    }
    gemm_qp_level(pool, level, type, W, P, N, K, Xq, m, Y, ldy);
}

void sw_gemm_q(sw_pool *pool, sw_qtype type, const void *W, int N, int K, const void *Xq, int m,
               float *Y, size_t ldy) {
    sw_gemm_qp(pool, type, W, NULL, N, K, Xq, m, Y, ldy);
}

void sw_gemm_q8_0(sw_pool *pool, const void *W, int N, int K, const void *Xq, int m, float *Y,
                  size_t ldy) {
    sw_gemm_q(pool, SW_QTYPE_Q8_0, W, N, K, Xq, m, Y, ldy);
}
void sw_gemm_q4_0(sw_pool *pool, const void *W, int N, int K, const void *Xq, int m, float *Y,
                  size_t ldy) {
    sw_gemm_q(pool, SW_QTYPE_Q4_0, W, N, K, Xq, m, Y, ldy);
}
void sw_gemm_q4_1(sw_pool *pool, const void *W, int N, int K, const void *Xq, int m, float *Y,
                  size_t ldy) {
    sw_gemm_q(pool, SW_QTYPE_Q4_1, W, N, K, Xq, m, Y, ldy);
}
