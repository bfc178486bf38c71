// NEON kernel of the Q5_0 / Q5_1 / K-quant matmuls (sw_kquant.h). The decoded chunk (swi_kq_decode,
// vectorized here for NEON) holds one weight row per dword, so a 16-byte load is 4 rows x 4 k:
// with dotprod, `sdot lane` multiplies it by the group's 4 activation bytes and 8 int32x4
// accumulators cover the 32 rows, as in sw_quant_neon.c's packed kernel; without dotprod,
// widening multiplies leave pair sums that are folded per half block. The decoded values are
// 0..63, so they read the same as signed bytes.
#include "sw_kquant.h"
#include "sw_kquant_impl.h"

#if defined(__aarch64__)
#include "sw_neon.h"

#define SW_INLINE static inline __attribute__((always_inline))

// Sums of one decoded block w against the activation bytes x, per weight rows 4v..4v+3: lo over
// elements 0..15 (groups 0-3), hi over 16..31 (groups 4-7).
SW_NEON_DOTPROD SW_INLINE void block_sdot(const uint8_t *w, const int8_t *x, int32x4_t lo[8], int32x4_t hi[8]) {
    const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
    for (int v = 0; v < 8; v++) lo[v] = hi[v] = vdupq_n_s32(0);
#define SW_KQ_GROUP(g, acc, xv, lane)                                                             \
    for (int v = 0; v < 8; v++) acc[v] = vdotq_laneq_s32(acc[v], vld1q_s8((const int8_t *)w + (g) * 128 + 16 * v), xv, lane);
    SW_KQ_GROUP(0, lo, x0, 0) SW_KQ_GROUP(1, lo, x0, 1) SW_KQ_GROUP(2, lo, x0, 2) SW_KQ_GROUP(3, lo, x0, 3)
    SW_KQ_GROUP(4, hi, x1, 0) SW_KQ_GROUP(5, hi, x1, 1) SW_KQ_GROUP(6, hi, x1, 2) SW_KQ_GROUP(7, hi, x1, 3)
#undef SW_KQ_GROUP
}

// Without dotprod: per group, the activation dword repeated over a vector times 16 weight bytes
// (4 rows x 4 k) in two widening multiplies; pairwise adds leave two partial sums per row.
SW_INLINE void half_mull(const uint8_t *w, int32x4_t xw, int half, int32x4_t out[8]) {
    int32x4_t pa[8], pb[8];
    for (int v = 0; v < 8; v++) pa[v] = pb[v] = vdupq_n_s32(0);
    for (int gg = 0; gg < 4; gg++) {
        int32x4_t xd;
        switch (gg) {  // the lane index of vdupq_laneq must be a constant
            case 0: xd = vdupq_laneq_s32(xw, 0); break;
            case 1: xd = vdupq_laneq_s32(xw, 1); break;
            case 2: xd = vdupq_laneq_s32(xw, 2); break;
            default: xd = vdupq_laneq_s32(xw, 3); break;
        }
        const int8x16_t xq = vreinterpretq_s8_s32(xd);
        for (int v = 0; v < 8; v++) {
            const int8x16_t q = vld1q_s8((const int8_t *)w + (4 * half + gg) * 128 + 16 * v);
            pa[v] = vpadalq_s16(pa[v], vmull_s8(vget_low_s8(q), vget_low_s8(xq)));
            pb[v] = vpadalq_s16(pb[v], vmull_high_s8(q, xq));
        }
    }
    for (int v = 0; v < 8; v++) out[v] = vpaddq_s32(pa[v], pb[v]);
}

SW_INLINE void block_mull(const uint8_t *w, const int8_t *x, int32x4_t lo[8], int32x4_t hi[8]) {
    half_mull(w, vreinterpretq_s32_s8(vld1q_s8(x)), 0, lo);
    half_mull(w, vreinterpretq_s32_s8(vld1q_s8(x + 16)), 1, hi);
}

// One activation row (its q8a row x) against the decoded chunk; y holds the running sums.
#define SW_KQ_ROW(BLOCK)                                                                             \
    const sw_block_q8a *xb = (const sw_block_q8a *)x;                                                \
    const int32_t *xsum = (const int32_t *)(x + (size_t)nb * sizeof(sw_block_q8a));                  \
    float32x4_t f[8];                                                                                \
    float tmp[32];                                                                                   \
    if (!first) {                                                                                    \
        for (int r = 0; r < 32; r++) tmp[r] = r < nrows ? y[r] : 0.0f;                               \
        for (int v = 0; v < 8; v++) f[v] = vld1q_f32(tmp + 4 * v);                                   \
    } else {                                                                                         \
        for (int v = 0; v < 8; v++) f[v] = vdupq_n_f32(0);                                           \
    }                                                                                                \
    for (int bi = 0; bi < nblk; bi++) {                                                              \
        const int b = b0 + bi;                                                                       \
        int32x4_t lo[8], hi[8];                                                                      \
        BLOCK(wq + bi * 1024, xb[b].qs, lo, hi);                                                     \
        const float dx = xb[b].d, sx = xb[b].s;                                                      \
        const int32_t sl = swi_kq_has_halves(t) ? xlo[b] : 0, sh = xsum[b] - sl;                     \
        const int32_t o = swi_kq_half_offset(t);                                                     \
        for (int v = 0; v < 8; v++) {                                                                \
            int32x4_t a;                                                                             \
            if (swi_kq_has_halves(t) && !swi_kq_prescaled(t)) {                                      \
                a = vmulq_s32(vsubq_s32(lo[v], vdupq_n_s32(o * sl)), vld1q_s32(isc + bi * 64 + 4 * v)); \
                a = vmlaq_s32(a, vsubq_s32(hi[v], vdupq_n_s32(o * sh)), vld1q_s32(isc + bi * 64 + 32 + 4 * v)); \
            } else {                                                                                 \
                a = vaddq_s32(lo[v], hi[v]);                                                         \
                if (t == SW_KQ_Q5_0) a = vsubq_s32(a, vdupq_n_s32(16 * xsum[b]));                    \
            }                                                                                        \
            f[v] = vfmaq_f32(f[v], vld1q_f32(ds + bi * 32 + 4 * v), vmulq_n_f32(vcvtq_f32_s32(a), dx)); \
            if (swi_kq_has_min(t)) f[v] = vfmaq_n_f32(f[v], vld1q_f32(dm + bi * 32 + 4 * v), sx); \
            if (t == SW_KQ_Q2_K) {                                                                   \
                f[v] = vfmaq_n_f32(f[v], vld1q_f32(dm + bi * 64 + 4 * v), dx * (float)sl);           \
                f[v] = vfmaq_n_f32(f[v], vld1q_f32(dm + bi * 64 + 32 + 4 * v), dx * (float)sh);      \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    for (int v = 0; v < 8; v++) vst1q_f32(tmp + 4 * v, f[v]);                                        \
    for (int r = 0; r < nrows; r++) y[r] = tmp[r];

SW_NEON_DOTPROD SW_INLINE void row_sdot(const sw_kqtype t, const uint8_t *wq, const float *ds, const float *dm,
                                        const int32_t *isc, int b0, int nblk, int nb, const uint8_t *x,
                                        const int16_t *xlo, float *y, int nrows, int first) {
    SW_KQ_ROW(block_sdot)
}

SW_INLINE void row_mull(const sw_kqtype t, const uint8_t *wq, const float *ds, const float *dm, const int32_t *isc,
                        int b0, int nblk, int nb, const uint8_t *x, const int16_t *xlo, float *y, int nrows, int first) {
    SW_KQ_ROW(block_mull)
}

SW_NEON_DOTPROD static void tile_sdot(const sw_kqtype t, const uint8_t *wq, const float *ds, const float *dm,
                                      const int32_t *isc, int b0, int nblk, int nb, const uint8_t *Xq, size_t xrb,
                                      int m, const int16_t *xlo, float *Y, size_t ldy, int nrows) {
    for (int i = 0; i < m; i++)
        row_sdot(t, wq, ds, dm, isc, b0, nblk, nb, Xq + (size_t)i * xrb, xlo ? xlo + (size_t)i * nb : NULL,
                 Y + (size_t)i * ldy, nrows, b0 == 0);
}

static void tile_mull(const sw_kqtype t, const uint8_t *wq, const float *ds, const float *dm, const int32_t *isc,
                      int b0, int nblk, int nb, const uint8_t *Xq, size_t xrb, int m, const int16_t *xlo, float *Y,
                      size_t ldy, int nrows) {
    for (int i = 0; i < m; i++)
        row_mull(t, wq, ds, dm, isc, b0, nblk, nb, Xq + (size_t)i * xrb, xlo ? xlo + (size_t)i * nb : NULL,
                 Y + (size_t)i * ldy, nrows, b0 == 0);
}

void swi_kqtile_neon(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                     size_t ldy, const int16_t *xlo, int dotprod) {
    _Alignas(64) uint8_t wq[SWI_KQ_CHUNK * 1024];
    _Alignas(64) float ds[SWI_KQ_CHUNK * 32], dm[SWI_KQ_HALVES];
    _Alignas(64) int32_t isc[SWI_KQ_HALVES];
    const int nb = K / 32, rb = swi_kq_rec_blocks(t);
    const size_t rec = swi_kq_rec_bytes(t), xrb = sw_q8a_row_bytes(K);
    for (int b0 = 0; b0 < nb; b0 += SWI_KQ_CHUNK) {
        const int nblk = nb - b0 < SWI_KQ_CHUNK ? nb - b0 : SWI_KQ_CHUNK;
        swi_kq_decode(t, P + (size_t)(b0 / rb) * rec, nblk, wq, ds, dm, isc);
        if (dotprod) tile_sdot(t, wq, ds, dm, isc, b0, nblk, nb, Xq, xrb, m, xlo, Y, ldy, nrows);
        else tile_mull(t, wq, ds, dm, isc, b0, nblk, nb, Xq, xrb, m, xlo, Y, ldy, nrows);
    }
}
#endif
