// AVX2 (+FMA, F16C) bf16 weight matmul and row converters behind sw_bf16.c and sw_convert.c.
#include "sw_quant.h"
#include "sw_quant_impl.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define SWT __attribute__((target("avx2,fma,f16c")))
#define SWTI SWT static inline __attribute__((always_inline))

// BF16 matmul. As in the AVX-512 kernel, a weight dword holds bf16 k (low half) and k+1 (high
// half), so `w << 16` is the even element as f32 and `w & 0xFFFF0000` the odd one; activations
// come pre-split per 32-chunk into [16 even | 16 odd] (sw_bf16.c), so the ymm of k .. k+15
// pairs with even floats 8s.. and odd floats 16 + 8s.. of its chunk (s = 0, 1). Each ymm
// accumulates one (row, activation) pair and is reduced the same way at the end whatever the
// tile shape, so a row's result does not depend on m.
#define BR 4   // weight rows per register tile
#define BM 2   // activation rows: 8 accumulators + 4 activations + 3 weight temporaries

SWTI float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// One 32-wide k chunk; W rows are `ldw` bf16 apart, Xs points at the chunk of activation 0.
SWTI void bchunk(const int br, const int bm, const uint16_t *W, size_t ldw, const float *Xs, int Kp,
                 int pf_rows, __m256 acc[BR][BM]) {
    const __m256i hi_mask = _mm256_set1_epi32((int)0xFFFF0000u);
    for (int r = 0; r < pf_rows; r++) _mm_prefetch((const char *)(W + (size_t)(BR + r) * ldw), _MM_HINT_T0);
#pragma clang loop unroll(full)
    for (int s = 0; s < 2; s++) {
        __m256 xe[BM], xo[BM];
#pragma clang loop unroll(full)
        for (int i = 0; i < bm; i++) {
            xe[i] = _mm256_load_ps(Xs + (size_t)i * Kp + 8 * s);
            xo[i] = _mm256_load_ps(Xs + (size_t)i * Kp + 16 + 8 * s);
        }
#pragma clang loop unroll(full)
        for (int r = 0; r < br; r++) {
            const __m256i wr = _mm256_loadu_si256((const __m256i *)(W + (size_t)r * ldw + 16 * s));
            const __m256 we = _mm256_castsi256_ps(_mm256_slli_epi32(wr, 16));
            const __m256 wo = _mm256_castsi256_ps(_mm256_and_si256(wr, hi_mask));
#pragma clang loop unroll(full)
            for (int i = 0; i < bm; i++) {
                acc[r][i] = _mm256_fmadd_ps(we, xe[i], acc[r][i]);
                acc[r][i] = _mm256_fmadd_ps(wo, xo[i], acc[r][i]);
            }
        }
    }
}

SWTI void bkernel(const int br, const int bm, const uint16_t *W, int K, const float *Xs, int Kp,
                  float *Y, size_t ldy, int pf_rows) {
    __m256 acc[BR][BM];
#pragma clang loop unroll(full)
    for (int r = 0; r < br; r++)
#pragma clang loop unroll(full)
        for (int i = 0; i < bm; i++) acc[r][i] = _mm256_setzero_ps();
    const int kfull = K & ~31;
    for (int k = 0; k < kfull; k += 32) bchunk(br, bm, W + k, (size_t)K, Xs + k, Kp, pf_rows, acc);
    if (kfull < K) {
        // The weights past K belong to the next row (or lie out of bounds): zero-padded copy.
        _Alignas(32) uint16_t tail[BR][32];
        memset(tail, 0, sizeof tail);
        for (int r = 0; r < br; r++) memcpy(tail[r], W + (size_t)r * K + kfull, (size_t)(K - kfull) * 2);
        bchunk(br, bm, &tail[0][0], 32, Xs + kfull, Kp, 0, acc);
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < bm; i++)
#pragma clang loop unroll(full)
        for (int r = 0; r < br; r++) Y[(size_t)i * ldy + r] = hsum8(acc[r][i]);
}

typedef void (*bkernel_fn)(const uint16_t *W, int K, const float *Xs, int Kp, float *Y, size_t ldy,
                           int pf_rows);
#define BK_DEF(R, M)                                                                           \
    SWT static void bk_##R##_##M(const uint16_t *W, int K, const float *Xs, int Kp, float *Y, \
                                 size_t ldy, int pf_rows) {                                   \
        bkernel(R, M, W, K, Xs, Kp, Y, ldy, pf_rows);                                          \
    }
BK_DEF(1, 1) BK_DEF(1, 2) BK_DEF(2, 1) BK_DEF(2, 2) BK_DEF(3, 1) BK_DEF(3, 2) BK_DEF(4, 1) BK_DEF(4, 2)
static const bkernel_fn bk_table[BR + 1][BM + 1] = {
    {NULL, NULL, NULL},
    {NULL, bk_1_1, bk_1_2},
    {NULL, bk_2_1, bk_2_2},
    {NULL, bk_3_1, bk_3_2},
    {NULL, bk_4_1, bk_4_2},
};

// `rows_after`: how many weight rows follow this tile in memory (prefetching stays inside W).
SWT void swi_bf16_rows_avx2(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                            float *Y, size_t ldy, int rows_after) {
    for (int i0 = 0; i0 < m; i0 += BM) {
        const int bm = m - i0 < BM ? m - i0 : BM;
        for (int r0 = 0; r0 < nrows; r0 += BR) {
            const int br = nrows - r0 < BR ? nrows - r0 : BR;
            // Later passes find the rows in cache already; only the first one prefetches.
            int pf_rows = 0;
            if (i0 == 0 && br == BR) {
                pf_rows = nrows - (r0 + BR) + rows_after;
                if (pf_rows > BR) pf_rows = BR;
                if (pf_rows < 0) pf_rows = 0;
            }
            bk_table[br][bm](W + (size_t)r0 * K, K, Xs + (size_t)i0 * Kp, Kp, Y + (size_t)i0 * ldy + r0, ldy, pf_rows);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Converters (bit-identical to the scalar ones). Tails go through an 8-lane buffer.
// ---------------------------------------------------------------------------------------------

SWTI __m128i f32_to_bf16_8(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
    const __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    const __m256i x = _mm256_blendv_epi8(r, q, nan);
    return _mm_packus_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
}

SWT void swi_f32_to_bf16_avx2(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(y + i), f32_to_bf16_8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float b[8] = {0};
        uint16_t o[8];
        memcpy(b, x + i, (n - i) * 4);
        _mm_storeu_si128((__m128i *)o, f32_to_bf16_8(_mm256_loadu_ps(b)));
        memcpy(y + i, o, (n - i) * 2);
    }
}

SWTI __m256 bf16_to_f32_8(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }

SWT void swi_bf16_to_f32_avx2(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, bf16_to_f32_8(_mm_loadu_si128((const __m128i *)(x + i))));
    if (i < n) {
        uint16_t b[8] = {0};
        float o[8];
        memcpy(b, x + i, (n - i) * 2);
        _mm256_storeu_ps(o, bf16_to_f32_8(_mm_loadu_si128((const __m128i *)b)));
        memcpy(y + i, o, (n - i) * 4);
    }
}

SWT void swi_f16_to_f32_avx2(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    if (i < n) {
        uint16_t b[8] = {0};
        float o[8];
        memcpy(b, x + i, (n - i) * 2);
        _mm256_storeu_ps(o, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b)));
        memcpy(y + i, o, (n - i) * 4);
    }
}

SWT void swi_f32_to_f16_avx2(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        float b[8] = {0};
        uint16_t o[8];
        memcpy(b, x + i, (n - i) * 4);
        _mm_storeu_si128((__m128i *)o, _mm256_cvtps_ph(_mm256_loadu_ps(b), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        memcpy(y + i, o, (n - i) * 2);
    }
}

#else  // not x86: never called (the level is never AVX2), but the symbols must exist.

void swi_bf16_rows_avx2(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                        float *Y, size_t ldy, int rows_after) {
    (void)W; (void)K; (void)nrows; (void)Xs; (void)Kp; (void)m; (void)Y; (void)ldy; (void)rows_after;
    abort();
}
void swi_f32_to_bf16_avx2(const float *x, uint16_t *y, size_t n) { (void)x; (void)y; (void)n; abort(); }
void swi_bf16_to_f32_avx2(const uint16_t *x, float *y, size_t n) { (void)x; (void)y; (void)n; abort(); }
void swi_f16_to_f32_avx2(const uint16_t *x, float *y, size_t n) { (void)x; (void)y; (void)n; abort(); }
void swi_f32_to_f16_avx2(const float *x, uint16_t *y, size_t n) { (void)x; (void)y; (void)n; abort(); }

#endif
