// AVX-512 BF16 matmul row kernel behind sw_bf16.c (split out of sw_quant_avx512.c). Every
// function carries its own target attribute, so the rest of the library stays portable and
// these are only entered after sw_cpu_use_avx512() said yes.
#include "sw_quant.h"
#include "sw_quant_impl.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define SWT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16,f16c,fma")))
#define SWTI SWT static inline __attribute__((always_inline))

// ---------------------------------------------------------------------------------------------
// BF16 matmul. vdpbf16ps only retires one instruction every ~2 cycles on Sapphire Rapids, half
// the f32 FMA rate, so weights are widened in registers instead: a dword holds bf16 k (low
// half) and k+1 (high half), so `w << 16` is the even element as f32 and `w & 0xFFFF0000` the
// odd one. Activations stay f32, pre-split per 32-chunk into [16 even | 16 odd] (see
// sw_bf16.c), and each zmm accumulates one (row, activation) pair, reduced at the end.
// ---------------------------------------------------------------------------------------------

#define BR 4   // weight rows per register tile (one 4-float store per activation row)
#define BM 5   // activation rows per register tile: 20 accumulators + 5 activations + 2

// Sums of 4 vectors, as lanes 0..3.
SWTI __m128 reduce4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
    __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(v0, v1, 0x44), _mm512_shuffle_f32x4(v0, v1, 0xEE));
    __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(v2, v3, 0x44), _mm512_shuffle_f32x4(v2, v3, 0xEE));
    // 128-bit lane j of s now holds 4 partial sums of v_j.
    __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88), _mm512_shuffle_f32x4(s01, s23, 0xDD));
    s = _mm512_add_ps(s, _mm512_permute_ps(s, 0x4E));
    s = _mm512_add_ps(s, _mm512_permute_ps(s, 0xB1));
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), s));
}

// One 32-wide k chunk of a br x bm tile. Activations are the register-resident operand and
// each weight row is widened on the fly (keeping the weights live instead makes the compiler
// spill accumulators).
SWTI void bchunk(const int br, const int bm, const uint16_t *W, int K, const float *Xs, int Kp,
                 int k, __mmask32 mk, const int masked, int pf_rows, __m512 acc[BR][BM]) {
    const __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);
    // Rows are short, interleaved streams inside one page, which the hardware prefetcher
    // follows poorly: fetch the same chunk of the next row group (contiguous after this one).
    for (int r = 0; r < pf_rows; r++) _mm_prefetch((const char *)(W + (size_t)(BR + r) * K + k), _MM_HINT_T0);
#pragma clang loop unroll(full)
    for (int h = 0; h < 2; h++) {
        __m512 x[BM];
#pragma clang loop unroll(full)
        for (int i = 0; i < bm; i++) x[i] = _mm512_load_ps(Xs + (size_t)i * Kp + k + 16 * h);
#pragma clang loop unroll(full)
        for (int r = 0; r < br; r++) {
            const void *wp = (const void *)(W + (size_t)r * K + k);
            const __m512i wr = masked ? _mm512_maskz_loadu_epi16(mk, wp) : _mm512_loadu_si512(wp);
            const __m512 wf = _mm512_castsi512_ps(h == 0 ? _mm512_slli_epi32(wr, 16)
                                                        : _mm512_and_si512(wr, hi_mask));
#pragma clang loop unroll(full)
            for (int i = 0; i < bm; i++) acc[r][i] = _mm512_fmadd_ps(wf, x[i], acc[r][i]);
        }
    }
}

SWTI void bkernel(const int br, const int bm, const uint16_t *W, int K, const float *Xs, int Kp,
                  float *Y, size_t ldy, int pf_rows) {
    __m512 acc[BR][BM];
#pragma clang loop unroll(full)
    for (int r = 0; r < br; r++)
#pragma clang loop unroll(full)
        for (int i = 0; i < bm; i++) acc[r][i] = _mm512_setzero_ps();
    const int kfull = K & ~31;
    for (int k = 0; k < kfull; k += 32) bchunk(br, bm, W, K, Xs, Kp, k, (__mmask32)~0u, 0, pf_rows, acc);
    // The weights past K belong to the next row (or lie out of bounds): mask them off. Masked
    // loads cost an extra ALU uop, so only the tail pays for them.
    if (kfull < K) bchunk(br, bm, W, K, Xs, Kp, kfull, (__mmask32)((1ull << (K - kfull)) - 1), 1, pf_rows, acc);
#pragma clang loop unroll(full)
    for (int i = 0; i < bm; i++) {
        float *y = Y + (size_t)i * ldy;
        if (br == 4) {
            _mm_storeu_ps(y, reduce4(acc[0][i], acc[1][i], acc[2][i], acc[3][i]));
        } else {
#pragma clang loop unroll(full)
            for (int r = 0; r < br; r++) y[r] = _mm512_reduce_add_ps(acc[r][i]);
        }
    }
}

typedef void (*bkernel_fn)(const uint16_t *W, int K, const float *Xs, int Kp, float *Y, size_t ldy,
                           int pf_rows);
#define BK_DEF(R, M)                                                                           \
    SWT static void bk_##R##_##M(const uint16_t *W, int K, const float *Xs, int Kp, float *Y, \
                                 size_t ldy, int pf_rows) {                                   \
        bkernel(R, M, W, K, Xs, Kp, Y, ldy, pf_rows);                                          \
    }
#define BK_ROW(R) BK_DEF(R, 1) BK_DEF(R, 2) BK_DEF(R, 3) BK_DEF(R, 4) BK_DEF(R, 5)
BK_ROW(1) BK_ROW(2) BK_ROW(3) BK_ROW(4)
static const bkernel_fn bk_table[BR + 1][BM + 1] = {
    {NULL, NULL, NULL, NULL, NULL, NULL},
    {NULL, bk_1_1, bk_1_2, bk_1_3, bk_1_4, bk_1_5},
    {NULL, bk_2_1, bk_2_2, bk_2_3, bk_2_4, bk_2_5},
    {NULL, bk_3_1, bk_3_2, bk_3_3, bk_3_4, bk_3_5},
    {NULL, bk_4_1, bk_4_2, bk_4_3, bk_4_4, bk_4_5},
};

// `rows_after`: how many weight rows follow this tile in memory (prefetching stays inside W).
SWT void swi_bf16_rows_avx512(const uint16_t *W, int K, int nrows, const float *Xs, int Kp,
                              int m, float *Y, size_t ldy, int rows_after) {
    const int ntile = (m + BM - 1) / BM, base = m / ntile, extra = m % ntile;
    for (int ti = 0, i0 = 0; ti < ntile; ti++) {
        const int bm = base + (ti < extra);
        for (int r0 = 0; r0 < nrows; r0 += BR) {
            const int br = nrows - r0 < BR ? nrows - r0 : BR;
            // Later passes find the rows in cache already; only the first one prefetches.
            int pf_rows = 0;
            if (ti == 0 && br == BR) {
                pf_rows = nrows - (r0 + BR) + rows_after;
                if (pf_rows > BR) pf_rows = BR;
                if (pf_rows < 0) pf_rows = 0;
            }
            bk_table[br][bm](W + (size_t)r0 * K, K, Xs + (size_t)i0 * Kp, Kp,
                             Y + (size_t)i0 * ldy + r0, ldy, pf_rows);
        }
        i0 += bm;
    }
}

#else  // not x86: never called (sw_cpu_use_avx512() is 0), but the symbols must exist.

void swi_bf16_rows_avx512(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                          float *Y, size_t ldy, int rows_after) {
    (void)W; (void)K; (void)nrows; (void)Xs; (void)Kp; (void)m; (void)Y; (void)ldy; (void)rows_after;
    abort();
}
#endif
