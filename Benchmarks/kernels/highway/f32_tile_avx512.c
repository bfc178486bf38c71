// A hand-written AVX-512 twin of the AVX2 register tile in sw_gemm_f32.c (two zmm per 32
// columns instead of four ymm), so the Highway AVX3 figures have an intrinsics counterpart at the
// same vector width. Benchmark only; same packed layout and traversal as sw_gemm_f32.c.
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "f32_tile_avx512.h"

enum { TILE = 32, MR = 3 };

#define T512 __attribute__((target("avx512f,fma")))

T512 static inline __attribute__((always_inline)) void rows(const int mr, const float *p, int k, const float *x, size_t ldx,
                                                            float *y, size_t ldy, int cols) {
    __m512 a[MR][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) a[i][0] = a[i][1] = _mm512_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        const float *w = p + (size_t)kk * TILE;
        const __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            const __m512 xv = _mm512_set1_ps(x[(size_t)i * ldx + kk]);
            a[i][0] = _mm512_fmadd_ps(w0, xv, a[i][0]);
            a[i][1] = _mm512_fmadd_ps(w1, xv, a[i][1]);
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        _Alignas(64) float t[TILE];
        _mm512_store_ps(t, a[i][0]);
        _mm512_store_ps(t + 16, a[i][1]);
        memcpy(y + (size_t)i * ldy, t, sizeof(float) * (size_t)cols);
    }
}

T512 static void tile(const float *p, int k, const float *x, size_t ldx, int m, float *y, size_t ldy, int cols) {
    int i = 0;
    for (; i + MR <= m; i += MR) rows(MR, p, k, x + (size_t)i * ldx, ldx, y + (size_t)i * ldy, ldy, cols);
    if (m - i == 2) rows(2, p, k, x + (size_t)i * ldx, ldx, y + (size_t)i * ldy, ldy, cols);
    else if (m - i == 1) rows(1, p, k, x + (size_t)i * ldx, ldx, y + (size_t)i * ldy, ldy, cols);
}

void f32_linear_avx512(const float *packed, int n, int k, const float *x, size_t ldx, int m, float *y, size_t ldy) {
    const int tiles = (n + TILE - 1) / TILE;
    int rows_per_pass = k > 0 ? (65536 / k) / MR * MR : m;
    if (rows_per_pass < MR) rows_per_pass = MR;
    for (int t = 0; t < tiles; t++) {
        const float *p = packed + (size_t)t * k * TILE;
        const int n0 = t * TILE, cols = n - n0 < TILE ? n - n0 : TILE;
        for (int i0 = 0; i0 < m; i0 += rows_per_pass) {
            const int r = m - i0 < rows_per_pass ? m - i0 : rows_per_pass;
            tile(p, k, x + (size_t)i0 * ldx, ldx, r, y + (size_t)i0 * ldy + n0, ldy, cols);
        }
    }
}
