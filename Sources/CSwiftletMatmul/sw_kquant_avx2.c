// AVX2 (+FMA, F16C) kernel of the Q5_0 / Q5_1 / K-quant matmuls (sw_kquant.h). The decoded chunk
// (swi_kq_decode, vectorized here for AVX2) holds one weight row per dword lane, so each
// instruction works on 8 rows against 4 broadcast activation bytes, as in sw_quant_avx2.c.
// `vpmaddubsw` (u8 weights x s8 activations -> s16 pairs) has no headroom for long sums: pairs
// reach 2 * 63 * 127 = 16,002 for Q6_K's 6-bit values, 11,430 for Q2_K's decoded values (at
// most 45, see sw_kquant_impl.h), 7,874 for 5 bits, 3,810 for 4 bits and 1,778 for Q3_K's 3 bits,
// so the int16 sums of 2, 4 or all 8 groups are widened to int32 (`vpmaddwd` by ones) before
// they could saturate (after 4 at most where the halves of a block are summed apart).
#include "sw_kquant.h"
#include "sw_kquant_impl.h"

#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define SWT __attribute__((target("avx2,fma,f16c")))
#define SWTI SWT static inline __attribute__((always_inline))

SWTI __m256i lane_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The decoded weights of block bi of the chunk, group g, rows 8v .. 8v + 7, straight from the
// packed records R: the values swi_kq_decode writes, for the one-row path. Shifts are 16-bit,
// by counts that keep each byte's bits within it (see sw_kquant_avx512.c).
SWTI __m256i direct_weights(const sw_kqtype t, const uint8_t *R, int bi, const int g, const int v) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    if (swi_kq_is_q5x(t)) {
        const uint8_t *rec = R + (size_t)bi * swi_kq_rec_bytes(t);
        const __m256i raw = _mm256_loadu_si256((const __m256i *)(rec + (g & 3) * 128 + v * 32));
        const __m256i hb = _mm256_loadu_si256((const __m256i *)(rec + 512 + v * 32));
        const __m256i q = _mm256_and_si256(g < 4 ? raw : _mm256_srli_epi16(raw, 4), m4);
        const __m256i h = g <= 4 ? _mm256_slli_epi16(hb, 4 - g) : _mm256_srli_epi16(hb, g - 4);
        return _mm256_or_si256(q, _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
    }
    if (t == SW_KQ_Q2_K) {  // (Q3_K takes the scratch path, see swi_kqtile_avx2)
        const __m256i raw = _mm256_loadu_si256((const __m256i *)(R + (bi >> 2) * 1024 + g * 128 + v * 32));
        return _mm256_and_si256(_mm256_srli_epi16(raw, 2 * (bi & 3)), _mm256_set1_epi8(3));
    }
    if (swi_kq_has_min(t)) {
        const __m256i raw = _mm256_loadu_si256((const __m256i *)(R + (bi >> 1) * 1024 + g * 128 + v * 32));
        const __m256i q = _mm256_and_si256(_mm256_srli_epi16(raw, 4 * (bi & 1)), m4);
        if (t == SW_KQ_Q4_K) return q;
        const __m256i hb = _mm256_loadu_si256((const __m256i *)(R + 4096 + g * 128 + v * 32));
        const __m256i h = _mm256_slli_epi16(_mm256_srli_epi16(hb, bi), 4);
        return _mm256_or_si256(q, _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
    }
    const int hh = bi >> 2, tt = bi & 3;
    const __m256i ql = _mm256_loadu_si256((const __m256i *)(R + hh * 2048 + (tt & 1) * 1024 + g * 128 + v * 32));
    const __m256i qh = _mm256_loadu_si256((const __m256i *)(R + 4096 + hh * 1024 + g * 128 + v * 32));
    const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(ql, 4 * (tt >> 1)), m4);
    const __m256i h = _mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * tt), 4);
    return _mm256_or_si256(lo, _mm256_and_si256(h, _mm256_set1_epi8(0x30)));
}

// One activation row x (its q8a row) against the decoded chunk wq, or with `direct` against the
// records R; y holds the running sums.
SWTI void kq_row(const sw_kqtype t, const int direct, const uint8_t *R, const uint8_t *wq, const float *ds, const float *dm, const int32_t *isc, int b0,
                 int nblk, int nb, const uint8_t *x, const int16_t *xlo, float *y, int nrows, int first) {
    // Groups whose int16 sums are added before widening (see the top of the file); Q2_K's
    // decoded values (times their scales) reach 45.
    const int split = swi_kq_has_halves(t) && (direct || !swi_kq_prescaled(t));
    const int span = t == SW_KQ_Q6_K || (t == SW_KQ_Q2_K && !direct) ? 2 : t == SW_KQ_Q4_K ? 8 : 4;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 f[4];
    for (int v = 0; v < 4; v++) {
        const int n = nrows - 8 * v;
        f[v] = first || n <= 0 ? _mm256_setzero_ps()
               : n >= 8      ? _mm256_loadu_ps(y + 8 * v)
                             : _mm256_maskload_ps(y + 8 * v, lane_mask(n));
    }
    const sw_block_q8a *xb = (const sw_block_q8a *)x;
    const int32_t *xsum = (const int32_t *)(x + (size_t)nb * sizeof(sw_block_q8a));
    for (int bi = 0; bi < nblk; bi++) {
        const int b = b0 + bi;
        const uint8_t *w = wq + bi * 1024;
        const uint8_t *xq = (const uint8_t *)xb[b].qs;
        __m256i a[4], h[4], s[4];
        const int32_t lo = swi_kq_has_halves(t) ? xlo[b] : 0, o = swi_kq_half_offset(t);
        const __m256i a0 = _mm256_set1_epi32(t == SW_KQ_Q5_0 ? -16 * xsum[b] : -o * lo);
        const __m256i h0 = _mm256_set1_epi32(-o * (xsum[b] - lo));
#pragma clang loop unroll(full)
        for (int v = 0; v < 4; v++) a[v] = a0, h[v] = h0;
#pragma clang loop unroll(full)
        for (int g = 0; g < 8; g++) {
            const __m256i xv = _mm256_set1_epi32((int32_t)swi_kq_u32(xq + 4 * g));
#pragma clang loop unroll(full)
            for (int v = 0; v < 4; v++) {
                const __m256i wv = direct ? direct_weights(t, R, bi, g, v) : _mm256_load_si256((const __m256i *)(w + g * 128 + v * 32));
                const __m256i p = _mm256_maddubs_epi16(wv, xv);
                s[v] = g % span == 0 ? p : _mm256_add_epi16(s[v], p);
                if (g % span == span - 1) {
                    const __m256i wide = _mm256_madd_epi16(s[v], ones);
                    if (split && g >= 4) h[v] = _mm256_add_epi32(h[v], wide);
                    else a[v] = _mm256_add_epi32(a[v], wide);
                }
            }
        }
#pragma clang loop unroll(full)
        for (int v = 0; v < 4; v++) {
            if (split) {
                const __m256i s0 = _mm256_loadu_si256((const __m256i *)(isc + bi * 64 + 8 * v));
                const __m256i s1 = _mm256_loadu_si256((const __m256i *)(isc + bi * 64 + 32 + 8 * v));
                a[v] = _mm256_add_epi32(_mm256_mullo_epi32(a[v], s0), _mm256_mullo_epi32(h[v], s1));
            }
            const __m256 dx = _mm256_set1_ps(xb[b].d);
            f[v] = _mm256_fmadd_ps(_mm256_loadu_ps(ds + bi * 32 + 8 * v), _mm256_mul_ps(dx, _mm256_cvtepi32_ps(a[v])), f[v]);
            if (swi_kq_has_min(t))
                f[v] = _mm256_fmadd_ps(_mm256_loadu_ps(dm + bi * 32 + 8 * v), _mm256_set1_ps(xb[b].s), f[v]);
            if (t == SW_KQ_Q2_K) {
                f[v] = _mm256_fmadd_ps(_mm256_loadu_ps(dm + bi * 64 + 8 * v), _mm256_set1_ps(xb[b].d * (float)lo), f[v]);
                f[v] = _mm256_fmadd_ps(_mm256_loadu_ps(dm + bi * 64 + 32 + 8 * v), _mm256_set1_ps(xb[b].d * (float)(xsum[b] - lo)), f[v]);
            }
        }
    }
    for (int v = 0; v < 4; v++) {
        const int n = nrows - 8 * v;
        if (n >= 8) _mm256_storeu_ps(y + 8 * v, f[v]);
        else if (n > 0) _mm256_maskstore_ps(y + 8 * v, lane_mask(n), f[v]);
    }
}

typedef void (*kq_row_fn)(const uint8_t *R, const uint8_t *wq, const float *ds, const float *dm, const int32_t *isc, int b0, int nblk,
                          int nb, const uint8_t *x, const int16_t *xlo, float *y, int nrows, int first);
typedef void (*kq_decode_fn)(const uint8_t *R, int nblk, uint8_t *wq, float *ds, float *dm, int32_t *isc);

#define KQ_DEF(T, NAME, DIRECT)                                                                                  \
    SWT static void kq_row_##NAME##_##DIRECT(const uint8_t *R, const uint8_t *wq, const float *ds, const float *dm,   \
                                             const int32_t *isc, int b0, int nblk, int nb, const uint8_t *x,        \
                                             const int16_t *xlo, float *y, int nrows, int first) {                  \
        kq_row(T, DIRECT, R, wq, ds, dm, isc, b0, nblk, nb, x, xlo, y, nrows, first);                              \
    }
#define KQ_DECODE_DEF(T, NAME)                                                                                   \
    SWT static void kq_decode_##NAME(const uint8_t *R, int nblk, uint8_t *wq, float *ds, float *dm, int32_t *isc) { \
        swi_kq_decode(T, R, nblk, wq, ds, dm, isc);                                                              \
    }
KQ_DEF(SW_KQ_Q5_0, q5_0, 0) KQ_DEF(SW_KQ_Q4_K, q4_k, 0) KQ_DEF(SW_KQ_Q5_K, q5_k, 0) KQ_DEF(SW_KQ_Q6_K, q6_k, 0)
KQ_DEF(SW_KQ_Q5_0, q5_0, 1) KQ_DEF(SW_KQ_Q4_K, q4_k, 1) KQ_DEF(SW_KQ_Q5_K, q5_k, 1) KQ_DEF(SW_KQ_Q6_K, q6_k, 1)
KQ_DEF(SW_KQ_Q5_1, q5_1, 0) KQ_DEF(SW_KQ_Q5_1, q5_1, 1)
KQ_DEF(SW_KQ_Q2_K, q2_k, 0) KQ_DEF(SW_KQ_Q2_K, q2_k, 1) KQ_DEF(SW_KQ_Q3_K, q3_k, 0)
KQ_DECODE_DEF(SW_KQ_Q5_0, q5_0) KQ_DECODE_DEF(SW_KQ_Q4_K, q4_k) KQ_DECODE_DEF(SW_KQ_Q5_K, q5_k) KQ_DECODE_DEF(SW_KQ_Q6_K, q6_k)
KQ_DECODE_DEF(SW_KQ_Q5_1, q5_1) KQ_DECODE_DEF(SW_KQ_Q2_K, q2_k) KQ_DECODE_DEF(SW_KQ_Q3_K, q3_k)
// [direct][format] (Q3_K has no direct kernel)
static const kq_row_fn kq_rows[2][7] = {
    {kq_row_q5_0_0, kq_row_q4_k_0, kq_row_q5_k_0, kq_row_q6_k_0, kq_row_q5_1_0, kq_row_q2_k_0, kq_row_q3_k_0},
    {kq_row_q5_0_1, kq_row_q4_k_1, kq_row_q5_k_1, kq_row_q6_k_1, kq_row_q5_1_1, kq_row_q2_k_1, NULL}};
SWT static void kq_scales(const sw_kqtype t, const uint8_t *R, int nblk, float *ds, float *dm, int32_t *isc) {
    swi_kq_scales(t, R, nblk, ds, dm, isc);
}
static const kq_decode_fn kq_decoders[7] = {kq_decode_q5_0, kq_decode_q4_k, kq_decode_q5_k, kq_decode_q6_k,
                                            kq_decode_q5_1, kq_decode_q2_k, kq_decode_q3_k};

SWT void swi_kqtile_avx2(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                         size_t ldy, const int16_t *xlo) {
    _Alignas(64) uint8_t wq[SWI_KQ_CHUNK * 1024];
    _Alignas(64) float ds[SWI_KQ_CHUNK * 32], dm[SWI_KQ_HALVES];
    _Alignas(64) int32_t isc[SWI_KQ_HALVES];
    const int nb = K / 32, rb = swi_kq_rec_blocks(t);
    const size_t rec = swi_kq_rec_bytes(t), xrb = sw_q8a_row_bytes(K);
    // One row decodes the weights in registers: the scratch round trip would cost more, except
    // for Q3_K, whose high bits take five more instructions per vector here (2048 x 2048, one
    // row: 154 us direct, 129 us through scratch).
    const int direct = m == 1 && t != SW_KQ_Q3_K;
    for (int b0 = 0; b0 < nb; b0 += SWI_KQ_CHUNK) {
        const int nblk = nb - b0 < SWI_KQ_CHUNK ? nb - b0 : SWI_KQ_CHUNK;
        const uint8_t *R = P + (size_t)(b0 / rb) * rec;
        if (!direct) kq_decoders[t](R, nblk, wq, ds, dm, isc);
        else kq_scales(t, R, nblk, ds, dm, isc);
        for (int i = 0; i < m; i++)
            kq_rows[direct][t](R, wq, ds, dm, isc, b0, nblk, nb, Xq + (size_t)i * xrb, xlo ? xlo + (size_t)i * nb : NULL,
                               Y + (size_t)i * ldy, nrows, b0 == 0);
    }
}

#else  // not x86: never called, but the symbol must exist.

void swi_kqtile_avx2(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                     size_t ldy, const int16_t *xlo) {
    (void)t; (void)P; (void)nrows; (void)K; (void)Xq; (void)m; (void)Y; (void)ldy; (void)xlo;
    abort();
}
#endif
