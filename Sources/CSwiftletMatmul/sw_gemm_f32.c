// fp32-weight matmul with one fixed reduction order per output (see sw_gemm_f32.h).
#include "sw_gemm_f32.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sw_cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

struct sw_f32_linear {
    int n, k, tiles;
    float *p;  // [tile][k][SW_F32_TILE]
};

// Activation rows per register tile: MR rows x 32 columns of accumulators (4 ymm or 8 NEON
// vectors per row) give 8 independent FMA chains, enough to cover the FMA latency with two FMA
// ports. Three rows were measured 1.4-2x slower at m >= 8: 12 accumulators, 4 weights and a
// broadcast need 17 of AVX2's 16 registers, and the spilled accumulators lengthen the chains.
enum { MR = 2 };

sw_f32_linear *sw_f32_linear_create(const float *w, int n, int k) {
    sw_f32_linear *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->n = n;
    l->k = k;
    l->tiles = (n + SW_F32_TILE - 1) / SW_F32_TILE;
    const size_t floats = (size_t)l->tiles * (size_t)k * SW_F32_TILE;
    l->p = aligned_alloc(64, (floats * sizeof(float) + 63) & ~(size_t)63);
    if (!l->p) {
        free(l);
        return NULL;
    }
    for (int t = 0; t < l->tiles; t++)
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < SW_F32_TILE; j++) {
                const int row = t * SW_F32_TILE + j;
                l->p[((size_t)t * k + kk) * SW_F32_TILE + j] = row < n ? w[(size_t)row * k + kk] : 0.0f;
            }
    return l;
}

void sw_f32_linear_destroy(sw_f32_linear *l) {
    if (!l) return;
    free(l->p);
    free(l);
}

size_t sw_f32_linear_weight_bytes(const sw_f32_linear *l) {
    return (size_t)l->tiles * (size_t)l->k * SW_F32_TILE * sizeof(float);
}

// The reference: the same chain per output, written plainly (fmaf is exact, so compilers may
// not reorder it).
static void tile_scalar(const float *p, int k, const float *x, size_t ldx, int m, float *y, size_t ldy, int cols) {
    for (int i = 0; i < m; i++) {
        float acc[SW_F32_TILE] = {0};
        const float *xi = x + (size_t)i * ldx;
        for (int kk = 0; kk < k; kk++) {
            const float xv = xi[kk];
            const float *w = p + (size_t)kk * SW_F32_TILE;
            for (int j = 0; j < SW_F32_TILE; j++) acc[j] = fmaf(w[j], xv, acc[j]);
        }
        memcpy(y + (size_t)i * ldy, acc, sizeof(float) * (size_t)cols);
    }
}

#if defined(__x86_64__)
#define SW_F32_AVX2 __attribute__((target("avx2,fma")))
SW_F32_AVX2 static inline __attribute__((always_inline)) void rows_avx2(const int mr, const float *p, int k, const float *x, size_t ldx,
                                                                        float *y, size_t ldy, int cols) {
    __m256 a[MR][4];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) a[i][0] = a[i][1] = a[i][2] = a[i][3] = _mm256_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        const float *w = p + (size_t)kk * SW_F32_TILE;
        const __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8), w2 = _mm256_load_ps(w + 16), w3 = _mm256_load_ps(w + 24);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            const __m256 xv = _mm256_broadcast_ss(x + (size_t)i * ldx + kk);
            a[i][0] = _mm256_fmadd_ps(w0, xv, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(w1, xv, a[i][1]);
            a[i][2] = _mm256_fmadd_ps(w2, xv, a[i][2]);
            a[i][3] = _mm256_fmadd_ps(w3, xv, a[i][3]);
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        float *yi = y + (size_t)i * ldy;
        if (cols == SW_F32_TILE) {
            _mm256_storeu_ps(yi, a[i][0]);
            _mm256_storeu_ps(yi + 8, a[i][1]);
            _mm256_storeu_ps(yi + 16, a[i][2]);
            _mm256_storeu_ps(yi + 24, a[i][3]);
        } else {
            _Alignas(32) float t[SW_F32_TILE];
            _mm256_store_ps(t, a[i][0]);
            _mm256_store_ps(t + 8, a[i][1]);
            _mm256_store_ps(t + 16, a[i][2]);
            _mm256_store_ps(t + 24, a[i][3]);
            memcpy(yi, t, sizeof(float) * (size_t)cols);
        }
    }
}

SW_F32_AVX2 static void tile_avx2(const float *p, int k, const float *x, size_t ldx, int m, float *y, size_t ldy, int cols) {
    int i = 0;
    for (; i + MR <= m; i += MR) rows_avx2(MR, p, k, x + (size_t)i * ldx, ldx, y + (size_t)i * ldy, ldy, cols);
    if (m - i == 1) rows_avx2(1, p, k, x + (size_t)i * ldx, ldx, y + (size_t)i * ldy, ldy, cols);
}
#endif

#if defined(__aarch64__)
static inline __attribute__((always_inline)) void rows_neon(const int mr, const float *p, int k, const float *x, size_t ldx,
                                                            float *y, size_t ldy, int cols) {
    float32x4_t a[MR][8];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < 8; j++) a[i][j] = vdupq_n_f32(0.0f);
    for (int kk = 0; kk < k; kk++) {
        const float *w = p + (size_t)kk * SW_F32_TILE;
        float32x4_t wv[8];
        for (int j = 0; j < 8; j++) wv[j] = vld1q_f32(w + 4 * j);
        for (int i = 0; i < mr; i++) {
            const float32x4_t xv = vdupq_n_f32(x[(size_t)i * ldx + kk]);
            for (int j = 0; j < 8; j++) a[i][j] = vfmaq_f32(a[i][j], wv[j], xv);
        }
    }
    for (int i = 0; i < mr; i++) {
        float t[SW_F32_TILE];
        for (int j = 0; j < 8; j++) vst1q_f32(t + 4 * j, a[i][j]);
        memcpy(y + (size_t)i * ldy, t, sizeof(float) * (size_t)cols);
    }
}

static void tile_neon(const float *p, int k, const float *x, size_t ldx, int m, float *y, size_t ldy, int cols) {
    int i = 0;
    for (; i + MR <= m; i += MR) rows_neon(MR, p, k, x + (size_t)i * ldx, ldx, y + (size_t)i * ldy, ldy, cols);
    if (m - i == 1) rows_neon(1, p, k, x + (size_t)i * ldx, ldx, y + (size_t)i * ldy, ldy, cols);
}
#endif

typedef struct {
    const sw_f32_linear *l;
    const float *x; size_t ldx; int m;
    float *y; size_t ldy;
    int level;
    int rows_per_pass;
    _Atomic int next;
} fwd_ctx;

// Tiles are handed out one at a time; within a tile, rows go in passes that keep the activations
// of a pass in L2 while the tile's weights stay in L1/L2.
static void fwd_task(void *arg, int ith, int nth) {
    (void)ith; (void)nth;
    fwd_ctx *c = arg;
    const sw_f32_linear *l = c->l;
    for (;;) {
        const int t = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
        if (t >= l->tiles) break;
        const float *p = l->p + (size_t)t * l->k * SW_F32_TILE;
        const int n0 = t * SW_F32_TILE, cols = l->n - n0 < SW_F32_TILE ? l->n - n0 : SW_F32_TILE;
        for (int i0 = 0; i0 < c->m; i0 += c->rows_per_pass) {
            const int rows = c->m - i0 < c->rows_per_pass ? c->m - i0 : c->rows_per_pass;
            const float *x = c->x + (size_t)i0 * c->ldx;
            float *y = c->y + (size_t)i0 * c->ldy + n0;
#if defined(__x86_64__)
            if (c->level == SW_ISA_AVX2 || c->level == SW_ISA_AVX512) { tile_avx2(p, l->k, x, c->ldx, rows, y, c->ldy, cols); continue; }
#elif defined(__aarch64__)
            if (c->level == SW_ISA_NEON) { tile_neon(p, l->k, x, c->ldx, rows, y, c->ldy, cols); continue; }
#endif
            tile_scalar(p, l->k, x, c->ldx, rows, y, c->ldy, cols);
        }
    }
}

void sw_f32_linear_forward(sw_pool *pool, const sw_f32_linear *l, const float *x, size_t ldx, int m,
                           float *y, size_t ldy) {
    if (m <= 0 || l->n <= 0) return;
    fwd_ctx c = {.l = l, .x = x, .ldx = ldx, .m = m, .y = y, .ldy = ldy, .level = sw_cpu_level()};
    // About 256 KB of activations per pass.
    c.rows_per_pass = l->k > 0 ? (int)(65536 / l->k) / MR * MR : m;
    if (c.rows_per_pass < MR) c.rows_per_pass = MR;
    atomic_init(&c.next, 0);
    if (pool && l->tiles > 1) sw_pool_run(pool, fwd_task, &c);
    else fwd_task(&c, 0, 1);
}
