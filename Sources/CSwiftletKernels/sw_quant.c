// Portable half of the quantized/bf16 matmul kernels: public entry points, scalar reference
// code, and the parallel drivers that hand tiles to the kernels of the caller's level
// (sw_qpack.c scalar, sw_quant_avx2.c / sw_bf16_avx2.c, sw_quant_avx512.c).
#include "sw_quant.h"
#include "sw_cpu.h"
#include "sw_quant_impl.h"
#include "sw_neon.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// Rows per work item for the bf16 kernel.
#define SW_BF16_TILE 16

// ---------------------------------------------------------------------------------------------
// Scalar conversions
// ---------------------------------------------------------------------------------------------

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float sw_f16_to_f32_1(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        // Subnormal (or zero): man * 2^-24 is exact in float.
        float f = (float)man * 0x1p-24f;
        return bits_f32(f32_bits(f) | sign);
    }
    // NaNs come out quiet, as the F16C instruction the SIMD paths use makes them.
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t sw_f32_to_f16_1(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {
        if (ax == 0x7f800000u) return sign | 0x7c00;
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));  // quiet NaN, keep payload
    }
    if (ax >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity
    if (ax < 0x38800000u) {
        // Below the smallest normal half: scaling by 2^24 is exact, so rintf rounds correctly
        // (a result of 0x400 is the smallest normal, which is the right encoding too).
        return (uint16_t)(sign | (uint16_t)lrintf(bits_f32(ax) * 0x1p24f));
    }
    ax += 0xfffu + ((ax >> 13) & 1u);
    return (uint16_t)(sign | ((ax - 0x38000000u) >> 13));
}

static inline float bf16_to_f32_1(uint16_t h) { return bits_f32((uint32_t)h << 16); }

static inline uint16_t f32_to_bf16_1(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void sw_f32_to_bf16(const float *x, uint16_t *y, size_t n) {
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_f32_to_bf16_avx512(x, y, n); return; }
    if (level == SW_ISA_AVX2) { swi_f32_to_bf16_avx2(x, y, n); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_f32_to_bf16_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = f32_to_bf16_1(x[i]);
}

void sw_bf16_to_f32(const uint16_t *x, float *y, size_t n) {
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_bf16_to_f32_avx512(x, y, n); return; }
    if (level == SW_ISA_AVX2) { swi_bf16_to_f32_avx2(x, y, n); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_bf16_to_f32_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = bf16_to_f32_1(x[i]);
}

void sw_f16_to_f32(const uint16_t *x, float *y, size_t n) {
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_f16_to_f32_avx512(x, y, n); return; }
    if (level == SW_ISA_AVX2) { swi_f16_to_f32_avx2(x, y, n); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_f16_to_f32_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = sw_f16_to_f32_1(x[i]);
}

void sw_f32_to_f16(const float *x, uint16_t *y, size_t n) {
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_f32_to_f16_avx512(x, y, n); return; }
    if (level == SW_ISA_AVX2) { swi_f32_to_f16_avx2(x, y, n); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_f32_to_f16_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = sw_f32_to_f16_1(x[i]);
}

// ---------------------------------------------------------------------------------------------
// Layout helpers
// ---------------------------------------------------------------------------------------------

size_t sw_qtype_block_bytes(sw_qtype type) {
    switch (type) {
        case SW_QTYPE_Q8_0: return sizeof(sw_block_q8_0);
        case SW_QTYPE_Q4_0: return sizeof(sw_block_q4_0);
        case SW_QTYPE_Q4_1: return sizeof(sw_block_q4_1);
    }
    return 0;
}

size_t sw_q8a_row_bytes(int k) {
    size_t nb = (size_t)(k / 32);
    return nb * sizeof(sw_block_q8a) + nb * sizeof(int32_t);
}

void sw_quantize_rows_q8a(const float *x, size_t ldx, int m, int k, void *out) {
    if (m <= 0 || k <= 0) return;
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_quantize_q8a_avx512(x, ldx, m, k, out); return; }
    if (level == SW_ISA_AVX2) { swi_quantize_q8a_avx2(x, ldx, m, k, out); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_quantize_q8a_neon(x, ldx, m, k, out); return; }
#endif
    const int nb = k / 32;
    const size_t rbytes = sw_q8a_row_bytes(k);
    for (int i = 0; i < m; i++) {
        uint8_t *row = (uint8_t *)out + (size_t)i * rbytes;
        sw_block_q8a *blk = (sw_block_q8a *)row;
        int32_t *sums = (int32_t *)(row + (size_t)nb * sizeof(sw_block_q8a));
        const float *xr = x + (size_t)i * ldx;
        for (int b = 0; b < nb; b++) {
            const float *xb = xr + 32 * b;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
            // Keep this exact sequence of operations: the SIMD path mirrors it bit for bit.
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            int32_t sum = 0;
            for (int j = 0; j < 32; j++) {
                float v = xb[j] * id;
                int q = (int)lrintf(v);
                blk[b].qs[j] = (int8_t)q;
                sum += q;
            }
            blk[b].d = d;
            blk[b].s = d * (float)sum;
            sums[b] = sum;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar reference of the quantized dot products
// ---------------------------------------------------------------------------------------------

// Rows [n0, n1) of Y for all m activation rows. Mirrors the SIMD arithmetic: an exact integer
// dot product per block, then  acc += dw * (dx * isum)  (+ m * s for Q4_1).
static void ref_rows(sw_qtype type, const uint8_t *W, int n0, int n1, int K, const uint8_t *Xq,
                     int m, float *Y, size_t ldy) {
    const int nb = K / 32;
    const size_t bb = sw_qtype_block_bytes(type);
    const size_t rb = bb * (size_t)nb;
    const size_t xrb = sw_q8a_row_bytes(K);
    for (int n = n0; n < n1; n++) {
        const uint8_t *wr = W + (size_t)n * rb;
        for (int i = 0; i < m; i++) {
            const sw_block_q8a *xb = (const sw_block_q8a *)(Xq + (size_t)i * xrb);
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                const uint8_t *wb = wr + (size_t)b * bb;
                const int8_t *xq = xb[b].qs;
                int32_t isum = 0;
                uint16_t dh;
                memcpy(&dh, wb, 2);
                const float dw = sw_f16_to_f32_1(dh);
                switch (type) {
                    case SW_QTYPE_Q8_0: {
                        const int8_t *q = (const int8_t *)(wb + 2);
                        for (int j = 0; j < 32; j++) isum += (int32_t)q[j] * xq[j];
                        acc = swi_block_update(acc, dw, xb[b].d, isum, 0, 0.0f, 0.0f);
                        break;
                    }
                    case SW_QTYPE_Q4_0: {
                        const uint8_t *q = wb + 2;
                        for (int j = 0; j < 16; j++) {
                            isum += ((int32_t)(q[j] & 0xF) - 8) * xq[j];
                            isum += ((int32_t)(q[j] >> 4) - 8) * xq[j + 16];
                        }
                        acc = swi_block_update(acc, dw, xb[b].d, isum, 0, 0.0f, 0.0f);
                        break;
                    }
                    case SW_QTYPE_Q4_1: {
                        uint16_t mh;
                        memcpy(&mh, wb + 2, 2);
                        const uint8_t *q = wb + 4;
                        for (int j = 0; j < 16; j++) {
                            isum += (int32_t)(q[j] & 0xF) * xq[j];
                            isum += (int32_t)(q[j] >> 4) * xq[j + 16];
                        }
                        acc = swi_block_update(acc, dw, xb[b].d, isum, 1, sw_f16_to_f32_1(mh), xb[b].s);
                        break;
                    }
                }
            }
            Y[(size_t)i * ldy + n] = acc;
        }
    }
}

void sw_gemm_q_ref(sw_qtype type, const void *W, int N, int K, const void *Xq, int m, float *Y,
                   size_t ldy) {
    if (N <= 0 || m <= 0) return;
    ref_rows(type, (const uint8_t *)W, 0, N, K, (const uint8_t *)Xq, m, Y, ldy);
}

void sw_dequantize_rows(sw_qtype type, const void *W, int rows, int K, float *Y, size_t ldy) {
    const int nb = K / 32;
    const size_t bb = sw_qtype_block_bytes(type);
    for (int r = 0; r < rows; r++) {
        const uint8_t *wr = (const uint8_t *)W + (size_t)r * bb * (size_t)nb;
        float *y = Y + (size_t)r * ldy;
        for (int b = 0; b < nb; b++) {
            const uint8_t *wb = wr + (size_t)b * bb;
            uint16_t dh, mh;
            memcpy(&dh, wb, 2);
            const float d = sw_f16_to_f32_1(dh);
            float *yb = y + 32 * b;
            switch (type) {
                case SW_QTYPE_Q8_0:
                    for (int j = 0; j < 32; j++) yb[j] = d * (float)((const int8_t *)(wb + 2))[j];
                    break;
                case SW_QTYPE_Q4_0:
                    for (int j = 0; j < 16; j++) {
                        yb[j] = d * (float)((int)(wb[2 + j] & 0xF) - 8);
                        yb[j + 16] = d * (float)((int)(wb[2 + j] >> 4) - 8);
                    }
                    break;
                case SW_QTYPE_Q4_1:
                    memcpy(&mh, wb + 2, 2);
                    for (int j = 0; j < 16; j++) {
                        yb[j] = d * (float)(wb[4 + j] & 0xF) + sw_f16_to_f32_1(mh);
                        yb[j + 16] = d * (float)(wb[4 + j] >> 4) + sw_f16_to_f32_1(mh);
                    }
                    break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parallel drivers
// ---------------------------------------------------------------------------------------------

// Work distribution: each thread owns a contiguous range of tiles, so repeated calls on the same
// matrix find their weights in the same core's cache, and threads that run out steal from the
// others' ranges. The cores are shared with other processes, so a purely static split would
// leave everyone waiting whenever one thread is preempted.
#define SW_MAX_RANGES 64

typedef struct {
    _Alignas(64) _Atomic int next;
    int end;
} sw_range;

typedef struct {
    int nr;
    int grab;
    sw_range r[SW_MAX_RANGES];
} sw_sched;

static void sched_init(sw_sched *s, int ntiles, int nthreads, int grab) {
    int nr = nthreads < SW_MAX_RANGES ? nthreads : SW_MAX_RANGES;
    if (nr > ntiles) nr = ntiles;
    if (nr < 1) nr = 1;
    s->nr = nr;
    s->grab = grab < 1 ? 1 : grab;
    for (int i = 0; i < nr; i++) {
        atomic_init(&s->r[i].next, (int)((long)ntiles * i / nr));
        s->r[i].end = (int)((long)ntiles * (i + 1) / nr);
    }
}

// Next chunk [*t0, *t1) for a thread whose cursor is (*r, *visited); 0 when all work is taken.
static inline int sched_next(sw_sched *s, int *r, int *visited, int *t0, int *t1) {
    while (*visited < s->nr) {
        sw_range *R = &s->r[*r];
        if (atomic_load_explicit(&R->next, memory_order_relaxed) < R->end) {
            int t = atomic_fetch_add_explicit(&R->next, s->grab, memory_order_relaxed);
            if (t < R->end) {
                *t0 = t;
                *t1 = t + s->grab < R->end ? t + s->grab : R->end;
                return 1;
            }
        }
        *r = *r + 1 == s->nr ? 0 : *r + 1;
        (*visited)++;
    }
    return 0;
}

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
    sw_sched sched;
} qgemm_ctx;

static void qgemm_task(void *arg, int ith, int nth) {
    (void)nth;
    qgemm_ctx *c = (qgemm_ctx *)arg;
    // Bytes of one packed 32-row tile.
    const size_t tb = (size_t)(c->K / 32) * swi_qrec_bytes(c->type);
    const int ntiles = (c->N + SW_QTILE - 1) / SW_QTILE;
    int r = ith % c->sched.nr, visited = 0, t0, t1;
    while (sched_next(&c->sched, &r, &visited, &t0, &t1)) {
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
                ref_rows(c->type, c->W, n0, n0 + nr, c->K, c->Xq, c->m, c->Y, c->ldy);
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
    sched_init(&c.sched, ntiles, nthreads, (int)((65536 + work - 1) / work));
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

// ---------------------------------------------------------------------------------------------
// BF16
// ---------------------------------------------------------------------------------------------

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
    sw_sched sched;
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
                acc += bf16_to_f32_1(w[k]) * x[c + (j >> 1) + ((j & 1) << 4)];
            }
            Y[(size_t)i * ldy + r] = acc;
        }
    }
}

static void bgemm_task(void *arg, int ith, int nth) {
    (void)nth;
    bgemm_ctx *c = (bgemm_ctx *)arg;
    int r = ith % c->sched.nr, visited = 0, t0, t1;
    while (sched_next(&c->sched, &r, &visited, &t0, &t1)) {
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
    sched_init(&c.sched, (N + SW_BF16_TILE - 1) / SW_BF16_TILE, nthreads, (int)((65536 + work - 1) / work));
    if (nthreads > 1 && N > SW_BF16_TILE) {
        sw_pool_run(pool, bgemm_task, &c);
    } else {
        bgemm_task(&c, 0, 1);
    }
    free(Xs);
}
