// AVX-512 VNNI kernel of the Q5_0 / Q5_1 / K-quant matmuls (sw_kquant.h). Each chunk of 8 q8a blocks
// is decoded once per tile (swi_kq_decode, vectorized here for AVX-512) into bytes 0..63 in the
// vertical layout of sw_quant_avx512.c's Q4 scratch: a zmm lane is one weight row, and one
// vpdpbusd multiplies 4 consecutive k of 16 rows by 4 broadcast activation bytes. Register tiles
// of up to 6 activation rows (4 for Q3_K and Q6_K, which keep two sums per half block) share
// each load.
#include "sw_kquant.h"
#include "sw_kquant_impl.h"

#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define SWT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))
#define SWTI SWT static inline __attribute__((always_inline))
#define MR 6
#define MR6 4
// Batches up to which the weights are decoded in registers for each activation row rather than
// once per chunk into scratch: for one row the scratch round trip costs more than it saves (Q4_K
// 1536 x 768: 50 -> 22 us); two rows in registers spill and measured no faster than scratch.
#define DIRECT_MAX_M 1

// The decoded weights of block bi of the chunk, group g, rows 16v .. 16v + 15, straight from the
// packed records R (the register-only twin of swi_kq_decode: the same values).
SWTI __m512i direct_weights(const sw_kqtype t, const uint8_t *R, const int bi, const int g, const int v) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    if (swi_kq_is_q5x(t)) {
        const uint8_t *rec = R + (size_t)bi * swi_kq_rec_bytes(t);
        const __m512i raw = _mm512_loadu_si512((const void *)(rec + (g & 3) * 128 + v * 64));
        const __m512i hb = _mm512_loadu_si512((const void *)(rec + 512 + v * 64));
        // Bit g of each byte to bit 4 (16-bit shifts by at most 4 keep bytes apart here).
        const __m512i h = g <= 4 ? _mm512_slli_epi16(hb, 4 - g) : _mm512_srli_epi16(hb, g - 4);
        return _mm512_ternarylogic_epi32(_mm512_and_si512(g < 4 ? raw : _mm512_srli_epi16(raw, 4), m4), h,
                                         _mm512_set1_epi8(0x10), 0xF8);  // a | (b & c)
    }
    // The block index is a variable here (see kq_rows), so the shifts take it as a count: the
    // fifth (or fifth and sixth) bits go down to bit 0 and back up to bit 4, which keeps bytes
    // apart within the 16-bit lanes.
    if (t == SW_KQ_Q2_K || t == SW_KQ_Q3_K) {
        const __m512i raw = _mm512_loadu_si512((const void *)(R + (bi >> 2) * 1024 + g * 128 + v * 64));
        const __m512i q = _mm512_and_si512(_mm512_srli_epi16(raw, 2 * (bi & 3)), _mm512_set1_epi8(3));
        if (t == SW_KQ_Q2_K) return q;
        const __m512i hb = _mm512_loadu_si512((const void *)(R + 2048 + g * 128 + v * 64));
        // Bit bi of every byte to bit 2 in one step: a dword rotation keeps each byte's bits
        // apart from the others' at the positions the mask keeps.
        const __m512i h = _mm512_rolv_epi32(hb, _mm512_set1_epi32((2 - bi) & 31));
        return _mm512_ternarylogic_epi32(q, h, _mm512_set1_epi8(0x04), 0xF8);
    }
    if (swi_kq_has_min(t)) {
        const __m512i raw = _mm512_loadu_si512((const void *)(R + (bi >> 1) * 1024 + g * 128 + v * 64));
        const __m512i q = _mm512_and_si512(_mm512_srli_epi16(raw, 4 * (bi & 1)), m4);
        if (t == SW_KQ_Q4_K) return q;
        const __m512i hb = _mm512_loadu_si512((const void *)(R + 4096 + g * 128 + v * 64));
        const __m512i h = _mm512_slli_epi16(_mm512_srli_epi16(hb, bi), 4);
        return _mm512_ternarylogic_epi32(q, h, _mm512_set1_epi8(0x10), 0xF8);
    }
    const int hh = bi >> 2, tt = bi & 3;
    const __m512i ql = _mm512_loadu_si512((const void *)(R + hh * 2048 + (tt & 1) * 1024 + g * 128 + v * 64));
    const __m512i qh = _mm512_loadu_si512((const void *)(R + 4096 + hh * 1024 + g * 128 + v * 64));
    const __m512i lo = _mm512_and_si512(_mm512_srli_epi16(ql, 4 * (tt >> 1)), m4);
    const __m512i h = _mm512_slli_epi16(_mm512_srli_epi16(qh, 2 * tt), 4);
    return _mm512_ternarylogic_epi32(lo, h, _mm512_set1_epi8(0x30), 0xF8);
}

// One q8a block (bi of the chunk, b of the row) for activation rows [0, mr) at X: integer sums,
// then the float update of f. Weights come from the decoded chunk wq, or with `direct` from the
// records R.
SWTI void kq_block(const sw_kqtype t, const int mr, const int direct, const uint8_t *R, const uint8_t *wq,
                   const float *ds, const float *dm, const int32_t *isc, const int bi, int b, int nb, const uint8_t *X,
                   size_t xrb, const int16_t *xlo, __m512 f[MR][2]) {
    const size_t sum_off = (size_t)nb * sizeof(sw_block_q8a);
    const uint8_t *w = wq + bi * 1024;
    // Halves summed apart, then times their scales (Q2_K's decoded values carry them).
    const int split = swi_kq_has_halves(t) && (direct || !swi_kq_prescaled(t));
    __m512i a[MR][2], h[MR][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        const int32_t xs = (int32_t)swi_kq_u32(X + (size_t)i * xrb + sum_off + (size_t)b * 4);
        if (swi_kq_has_halves(t)) {
            const int32_t lo = xlo[(size_t)i * nb + b], o = swi_kq_half_offset(t);
            a[i][0] = a[i][1] = _mm512_set1_epi32(-o * lo);
            h[i][0] = h[i][1] = _mm512_set1_epi32(-o * (xs - lo));
        } else {
            a[i][0] = a[i][1] = _mm512_set1_epi32(t == SW_KQ_Q5_0 ? -16 * xs : 0);
        }
    }
#pragma clang loop unroll(full)
    for (int g = 0; g < 8; g++) {
        const __m512i w0 = direct ? direct_weights(t, R, bi, g, 0) : _mm512_load_si512((const void *)(w + g * 128));
        const __m512i w1 = direct ? direct_weights(t, R, bi, g, 1) : _mm512_load_si512((const void *)(w + g * 128 + 64));
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            const uint8_t *xq = (const uint8_t *)((const sw_block_q8a *)(X + (size_t)i * xrb) + b)->qs;
            const __m512i xv = _mm512_set1_epi32((int32_t)swi_kq_u32(xq + 4 * g));
            if (split && g >= 4) {
                h[i][0] = _mm512_dpbusd_epi32(h[i][0], w0, xv);
                h[i][1] = _mm512_dpbusd_epi32(h[i][1], w1, xv);
            } else {
                a[i][0] = _mm512_dpbusd_epi32(a[i][0], w0, xv);
                a[i][1] = _mm512_dpbusd_epi32(a[i][1], w1, xv);
            }
        }
    }
    if (split) {
        const int32_t *s = isc + bi * 64;
        const __m512i s00 = _mm512_loadu_si512((const void *)s), s01 = _mm512_loadu_si512((const void *)(s + 16));
        const __m512i s10 = _mm512_loadu_si512((const void *)(s + 32)), s11 = _mm512_loadu_si512((const void *)(s + 48));
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            a[i][0] = _mm512_add_epi32(_mm512_mullo_epi32(a[i][0], s00), _mm512_mullo_epi32(h[i][0], s10));
            a[i][1] = _mm512_add_epi32(_mm512_mullo_epi32(a[i][1], s01), _mm512_mullo_epi32(h[i][1], s11));
        }
    }
    const __m512 d0 = _mm512_loadu_ps(ds + bi * 32), d1 = _mm512_loadu_ps(ds + bi * 32 + 16);
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        const sw_block_q8a *xb = (const sw_block_q8a *)(X + (size_t)i * xrb) + b;
        const __m512 dx = _mm512_set1_ps(xb->d);
        f[i][0] = _mm512_fmadd_ps(d0, _mm512_mul_ps(dx, _mm512_cvtepi32_ps(a[i][0])), f[i][0]);
        f[i][1] = _mm512_fmadd_ps(d1, _mm512_mul_ps(dx, _mm512_cvtepi32_ps(a[i][1])), f[i][1]);
    }
    if (swi_kq_has_min(t)) {
        const __m512 m0 = _mm512_loadu_ps(dm + bi * 32), m1 = _mm512_loadu_ps(dm + bi * 32 + 16);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            const __m512 sx = _mm512_set1_ps(((const sw_block_q8a *)(X + (size_t)i * xrb) + b)->s);
            f[i][0] = _mm512_fmadd_ps(m0, sx, f[i][0]);
            f[i][1] = _mm512_fmadd_ps(m1, sx, f[i][1]);
        }
    }
    if (t == SW_KQ_Q2_K) {
        const float *p = dm + bi * 64;
        const __m512 m00 = _mm512_loadu_ps(p), m01 = _mm512_loadu_ps(p + 16);
        const __m512 m10 = _mm512_loadu_ps(p + 32), m11 = _mm512_loadu_ps(p + 48);
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            const float dx = ((const sw_block_q8a *)(X + (size_t)i * xrb) + b)->d;
            const int32_t xs = (int32_t)swi_kq_u32(X + (size_t)i * xrb + sum_off + (size_t)b * 4), lo = xlo[(size_t)i * nb + b];
            const __m512 sl = _mm512_set1_ps(dx * (float)lo), sh = _mm512_set1_ps(dx * (float)(xs - lo));
            f[i][0] = _mm512_fmadd_ps(m10, sh, _mm512_fmadd_ps(m00, sl, f[i][0]));
            f[i][1] = _mm512_fmadd_ps(m11, sh, _mm512_fmadd_ps(m01, sl, f[i][1]));
        }
    }
}

// Activation rows [0, mr) at X (rows xrb apart) against one chunk (blocks b0 .. b0 + nblk); Y
// holds the running sums (read back unless `first`).
SWTI void kq_rows(const sw_kqtype t, const int mr, const int direct, const uint8_t *R, const uint8_t *wq,
                  const float *ds, const float *dm, const int32_t *isc, int b0, int nblk, int nb, const uint8_t *X,
                  size_t xrb, const int16_t *xlo, float *Y, size_t ldy, __mmask16 mk0, __mmask16 mk1, int first) {
    __m512 f[MR][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        float *y = Y + (size_t)i * ldy;
        f[i][0] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mk0, y);
        f[i][1] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mk1, y + 16);
    }
    // Not unrolled: with the blocks of a chunk side by side the compiler spilled most of the
    // accumulators (hundreds of stack accesses per chunk for Q6_K); the shift counts of
    // direct_weights then are variables, which vpsrlw/vpsllw take from a register at no cost.
#pragma clang loop unroll(disable)
    for (int bi = 0; bi < nblk; bi++) kq_block(t, mr, direct, R, wq, ds, dm, isc, bi, b0 + bi, nb, X, xrb, xlo, f);
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        float *y = Y + (size_t)i * ldy;
        _mm512_mask_storeu_ps(y, mk0, f[i][0]);
        _mm512_mask_storeu_ps(y + 16, mk1, f[i][1]);
    }
}

typedef void (*kq_rows_fn)(const uint8_t *R, const uint8_t *wq, const float *ds, const float *dm, const int32_t *isc, int b0, int nblk,
                           int nb, const uint8_t *X, size_t xrb, const int16_t *xlo, float *Y, size_t ldy,
                           __mmask16 mk0, __mmask16 mk1, int first);

#define KQ_DEF(T, NAME, MROWS, DIRECT)                                                                           \
    SWT static void kq_##NAME##_##MROWS##_##DIRECT(const uint8_t *R, const uint8_t *wq, const float *ds, const float *dm, \
                                                 const int32_t *isc, int b0, int nblk, int nb, const uint8_t *X,     \
                                                 size_t xrb, const int16_t *xlo, float *Y, size_t ldy, __mmask16 mk0, \
                                                 __mmask16 mk1, int first) {                                        \
        kq_rows(T, MROWS, DIRECT, R, wq, ds, dm, isc, b0, nblk, nb, X, xrb, xlo, Y, ldy, mk0, mk1, first);           \
    }
#define KQ_DEF_ALL(T, NAME)                                                                                     \
    KQ_DEF(T, NAME, 1, 0) KQ_DEF(T, NAME, 2, 0) KQ_DEF(T, NAME, 3, 0) KQ_DEF(T, NAME, 4, 0) KQ_DEF(T, NAME, 5, 0) \
    KQ_DEF(T, NAME, 6, 0) KQ_DEF(T, NAME, 1, 1)
KQ_DEF_ALL(SW_KQ_Q5_0, q5_0)
KQ_DEF_ALL(SW_KQ_Q4_K, q4_k)
KQ_DEF_ALL(SW_KQ_Q5_K, q5_k)
KQ_DEF_ALL(SW_KQ_Q5_1, q5_1)
KQ_DEF(SW_KQ_Q6_K, q6_k, 1, 0) KQ_DEF(SW_KQ_Q6_K, q6_k, 2, 0) KQ_DEF(SW_KQ_Q6_K, q6_k, 3, 0)
KQ_DEF(SW_KQ_Q6_K, q6_k, 4, 0) KQ_DEF(SW_KQ_Q6_K, q6_k, 1, 1)
KQ_DEF_ALL(SW_KQ_Q2_K, q2_k)
KQ_DEF(SW_KQ_Q3_K, q3_k, 1, 0) KQ_DEF(SW_KQ_Q3_K, q3_k, 2, 0) KQ_DEF(SW_KQ_Q3_K, q3_k, 3, 0)
KQ_DEF(SW_KQ_Q3_K, q3_k, 4, 0) KQ_DEF(SW_KQ_Q3_K, q3_k, 1, 1)

// [format][rows]: register tiles on the decoded chunk.
static const kq_rows_fn kq_table[7][MR + 1] = {
    {NULL, kq_q5_0_1_0, kq_q5_0_2_0, kq_q5_0_3_0, kq_q5_0_4_0, kq_q5_0_5_0, kq_q5_0_6_0},
    {NULL, kq_q4_k_1_0, kq_q4_k_2_0, kq_q4_k_3_0, kq_q4_k_4_0, kq_q4_k_5_0, kq_q4_k_6_0},
    {NULL, kq_q5_k_1_0, kq_q5_k_2_0, kq_q5_k_3_0, kq_q5_k_4_0, kq_q5_k_5_0, kq_q5_k_6_0},
    {NULL, kq_q6_k_1_0, kq_q6_k_2_0, kq_q6_k_3_0, kq_q6_k_4_0, NULL, NULL},
    {NULL, kq_q5_1_1_0, kq_q5_1_2_0, kq_q5_1_3_0, kq_q5_1_4_0, kq_q5_1_5_0, kq_q5_1_6_0},
    {NULL, kq_q2_k_1_0, kq_q2_k_2_0, kq_q2_k_3_0, kq_q2_k_4_0, kq_q2_k_5_0, kq_q2_k_6_0},
    {NULL, kq_q3_k_1_0, kq_q3_k_2_0, kq_q3_k_3_0, kq_q3_k_4_0, NULL, NULL},
};
// [format]: weights decoded in registers, for one activation row.
static const kq_rows_fn kq_direct[7] = {kq_q5_0_1_1, kq_q4_k_1_1, kq_q5_k_1_1, kq_q6_k_1_1,
                                        kq_q5_1_1_1, kq_q2_k_1_1, kq_q3_k_1_1};

#define KQ_DECODE_DEF(T, NAME)                                                                             \
    SWT static void kq_decode_##NAME(const uint8_t *R, int nblk, uint8_t *wq, float *ds, float *dm, int32_t *isc) { \
        swi_kq_decode(T, R, nblk, wq, ds, dm, isc);                                                        \
    }
KQ_DECODE_DEF(SW_KQ_Q5_0, q5_0) KQ_DECODE_DEF(SW_KQ_Q4_K, q4_k) KQ_DECODE_DEF(SW_KQ_Q5_K, q5_k) KQ_DECODE_DEF(SW_KQ_Q6_K, q6_k)
KQ_DECODE_DEF(SW_KQ_Q5_1, q5_1) KQ_DECODE_DEF(SW_KQ_Q2_K, q2_k) KQ_DECODE_DEF(SW_KQ_Q3_K, q3_k)
SWT static void kq_scales(const sw_kqtype t, const uint8_t *R, int nblk, float *ds, float *dm, int32_t *isc) {
    swi_kq_scales(t, R, nblk, ds, dm, isc);
}
typedef void (*kq_decode_fn)(const uint8_t *R, int nblk, uint8_t *wq, float *ds, float *dm, int32_t *isc);
static const kq_decode_fn kq_decoders[7] = {kq_decode_q5_0, kq_decode_q4_k, kq_decode_q5_k, kq_decode_q6_k,
                                            kq_decode_q5_1, kq_decode_q2_k, kq_decode_q3_k};

SWT void swi_kqtile_avx512(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                           size_t ldy, const int16_t *xlo) {
    _Alignas(64) uint8_t wq[SWI_KQ_CHUNK * 1024];
    _Alignas(64) float ds[SWI_KQ_CHUNK * 32], dm[SWI_KQ_HALVES];
    _Alignas(64) int32_t isc[SWI_KQ_HALVES];
    const int nb = K / 32, rb = swi_kq_rec_blocks(t);
    const size_t rec = swi_kq_rec_bytes(t), xrb = sw_q8a_row_bytes(K);
    const __mmask16 mk0 = nrows >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nrows) - 1);
    const __mmask16 mk1 = nrows >= 32 ? (__mmask16)0xFFFF : nrows <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nrows - 16)) - 1);
    const int direct = m <= DIRECT_MAX_M;
    const int mrmax = swi_kq_has_halves(t) && !swi_kq_prescaled(t) ? MR6 : MR;
    // Balanced register tiles (e.g. 32 rows -> 6,6,5,5,5,5), as in sw_quant_avx512.c.
    const int ntile = (m + mrmax - 1) / mrmax, base = m / ntile, extra = m % ntile;
    for (int b0 = 0; b0 < nb; b0 += SWI_KQ_CHUNK) {
        const int nblk = nb - b0 < SWI_KQ_CHUNK ? nb - b0 : SWI_KQ_CHUNK;
        const uint8_t *R = P + (size_t)(b0 / rb) * rec;
        if (direct) {
            // The scales only; the same values the full decode gives.
            kq_scales(t, R, nblk, ds, dm, isc);
            kq_direct[t](R, wq, ds, dm, isc, b0, nblk, nb, Xq, xrb, xlo, Y, ldy, mk0, mk1, b0 == 0);
            continue;
        }
        kq_decoders[t](R, nblk, wq, ds, dm, isc);
        for (int ti = 0, i0 = 0; ti < ntile; ti++) {
            const int mr = base + (ti < extra);
            kq_table[t][mr](R, wq, ds, dm, isc, b0, nblk, nb, Xq + (size_t)i0 * xrb, xrb, xlo ? xlo + (size_t)i0 * nb : NULL,
                            Y + (size_t)i0 * ldy, ldy, mk0, mk1, b0 == 0);
            i0 += mr;
        }
    }
}

#else  // not x86: never called, but the symbol must exist.

void swi_kqtile_avx512(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                       size_t ldy, const int16_t *xlo) {
    (void)t; (void)P; (void)nrows; (void)K; (void)Xq; (void)m; (void)Y; (void)ldy; (void)xlo;
    abort();
}
#endif
