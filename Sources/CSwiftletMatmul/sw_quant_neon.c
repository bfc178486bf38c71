// NEON versions of the quantized and bf16 matmul kernels of sw_quant_ref.c and sw_bf16.c (the
// converters and the activation quantization are in sw_convert_neon.c).
#include "sw_quant.h"
#include "sw_quant_neon.h"

#if defined(__aarch64__)
#include "sw_quant_impl.h"
#include <string.h>

// ---------------------------------------------------------------------------------------------
// Quantized matmul on unpacked GGUF rows. Four (weight row, activation row) pairs run side by
// side in the lanes of one vector; each lane does exactly the scalar reference's arithmetic
// (exact int32 block dot, then acc += dw * (dx * isum), + m * s for Q4_1), so a pair's result is
// the same whichever pairs share its vector: results do not depend on m or on the split over N.
// ---------------------------------------------------------------------------------------------

// The 32 weights of one block as two signed byte vectors (elements 0-15, 16-31); Q4_1 leaves
// the nibbles unsigned (0..15), which sdot/smull read the same way.
static inline void load_block(sw_qtype t, const uint8_t *wb, int8x16_t *lo, int8x16_t *hi) {
    if (t == SW_QTYPE_Q8_0) {
        *lo = vld1q_s8((const int8_t *)wb + 2);
        *hi = vld1q_s8((const int8_t *)wb + 18);
        return;
    }
    const uint8x16_t q = vld1q_u8(wb + (t == SW_QTYPE_Q4_0 ? 2 : 4));
    int8x16_t l = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F)));
    int8x16_t h = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
    if (t == SW_QTYPE_Q4_0) {
        l = vsubq_s8(l, vdupq_n_s8(8));
        h = vsubq_s8(h, vdupq_n_s8(8));
    }
    *lo = l;
    *hi = h;
}

// Without dotprod: |w * x| <= 128 * 127, so two products still fit an int16 lane.
static inline int32x4_t dot32_mull(int8x16_t wl, int8x16_t wh, const int8_t *x) {
    const int8x16_t x0 = vld1q_s8(x), x1 = vld1q_s8(x + 16);
    const int16x8_t p = vmlal_high_s8(vmull_s8(vget_low_s8(wl), vget_low_s8(x0)), wl, x0);
    const int16x8_t q = vmlal_high_s8(vmull_s8(vget_low_s8(wh), vget_low_s8(x1)), wh, x1);
    return vpadalq_s16(vpaddlq_s16(p), q);
}

SW_NEON_DOTPROD static inline int32x4_t dot32_sdot(int8x16_t wl, int8x16_t wh, const int8_t *x) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), wl, vld1q_s8(x)), wh, vld1q_s8(x + 16));
}

static inline float32x4_t half4(const uint8_t *const p[4], size_t off) {
    uint16_t h[4];
    for (int j = 0; j < 4; j++) memcpy(&h[j], p[j] + off, 2);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

// out[j] = dot of weight row w[j] and activation row x[j] (nb blocks each).
#define SW_QUAD_BODY(DOT)                                                                       \
    const size_t bb = sw_qtype_block_bytes(t);                                                  \
    float32x4_t acc = vdupq_n_f32(0);                                                           \
    for (int b = 0; b < nb; b++) {                                                              \
        const uint8_t *wb[4];                                                                   \
        const sw_block_q8a *xb[4];                                                              \
        int32x4_t d[4];                                                                         \
        for (int j = 0; j < 4; j++) {                                                           \
            wb[j] = w[j] + (size_t)b * bb;                                                      \
            xb[j] = (const sw_block_q8a *)x[j] + b;                                             \
            int8x16_t lo, hi;                                                                   \
            load_block(t, wb[j], &lo, &hi);                                                     \
            d[j] = DOT(lo, hi, xb[j]->qs);                                                      \
        }                                                                                       \
        const int32x4_t isum = vpaddq_s32(vpaddq_s32(d[0], d[1]), vpaddq_s32(d[2], d[3]));     \
        float dxa[4] = {xb[0]->d, xb[1]->d, xb[2]->d, xb[3]->d};                                \
        const float32x4_t dx = vld1q_f32(dxa);                                                  \
        acc = vfmaq_f32(acc, half4(wb, 0), vmulq_f32(dx, vcvtq_f32_s32(isum)));                 \
        if (t == SW_QTYPE_Q4_1) {                                                               \
            float sa[4] = {xb[0]->s, xb[1]->s, xb[2]->s, xb[3]->s};                             \
            acc = vfmaq_f32(acc, half4(wb, 2), vld1q_f32(sa));                                  \
        }                                                                                       \
    }                                                                                           \
    vst1q_f32(out, acc);

static void quad_mull(sw_qtype t, const uint8_t *const w[4], const uint8_t *const x[4], int nb, float out[4]) {
    SW_QUAD_BODY(dot32_mull)
}

SW_NEON_DOTPROD static void quad_sdot(sw_qtype t, const uint8_t *const w[4], const uint8_t *const x[4], int nb, float out[4]) {
    SW_QUAD_BODY(dot32_sdot)
}

void swi_qrows_neon(sw_qtype type, const uint8_t *W, int n0, int n1, int K, const uint8_t *Xq,
                    int m, float *Y, size_t ldy, int dotprod) {
    const int nb = K / 32;
    const size_t rb = sw_qtype_block_bytes(type) * (size_t)nb, xrb = sw_q8a_row_bytes(K);
    // Pairs in (n, i) order, four at a time; a short last group repeats its last pair.
    const long npairs = (long)(n1 - n0) * m;
    for (long p0 = 0; p0 < npairs; p0 += 4) {
        const uint8_t *w[4], *x[4];
        int n[4], i[4];
        for (int j = 0; j < 4; j++) {
            const long p = p0 + j < npairs ? p0 + j : npairs - 1;
            n[j] = n0 + (int)(p / m);
            i[j] = (int)(p % m);
            w[j] = W + (size_t)n[j] * rb;
            x[j] = Xq + (size_t)i[j] * xrb;
        }
        float out[4];
        if (dotprod) quad_sdot(type, w, x, nb, out);
        else quad_mull(type, w, x, nb, out);
        for (int j = 0; j < 4 && p0 + j < npairs; j++) Y[(size_t)i[j] * ldy + n[j]] = out[j];
    }
}

// ---------------------------------------------------------------------------------------------
// Quantized matmul on packed 32-row tiles (layout in sw_quant.h / sw_qpack.c): a record holds,
// per group g of 4 consecutive k, the dwords of all 32 rows, so one 16-byte load is 4 rows x 4 k
// and `sdot lane` multiplies it by the group's 4 activation bytes: 8 int32x4 accumulators cover
// the 32 rows with no horizontal sums. Per block, each row then gets the scalar kernel's float
// update acc += dw * (dx * isum) (+ m * s), so results do not depend on m or the row split.
// ---------------------------------------------------------------------------------------------

#define SW_INLINE static inline __attribute__((always_inline))

// isum[j][v] (weight rows 4v..4v+3) of one block record r against the activation bytes x[j] of
// mr activation rows, which share each weight load.
SW_NEON_DOTPROD SW_INLINE void tile_block_sdot(const int mr, sw_qtype t, const uint8_t *r, const int8_t *const x[2],
                                               int32x4_t isum[2][8]) {
    int8x16_t x0[2], x1[2];
    for (int j = 0; j < mr; j++) {
        x0[j] = vld1q_s8(x[j]);
        x1[j] = vld1q_s8(x[j] + 16);
        for (int v = 0; v < 8; v++) isum[j][v] = vdupq_n_s32(0);
    }
    if (t == SW_QTYPE_Q8_0) {
        const int8x16_t flip = vdupq_n_s8((int8_t)0x80);
#define SW_Q8_GROUP(g, xv, lane)                                                                   \
        for (int v = 0; v < 8; v++) {                                                              \
            const int8x16_t w = veorq_s8(vld1q_s8((const int8_t *)r + (g) * 128 + 16 * v), flip);  \
            for (int j = 0; j < mr; j++) isum[j][v] = vdotq_laneq_s32(isum[j][v], w, xv[j], lane); \
        }
        SW_Q8_GROUP(0, x0, 0) SW_Q8_GROUP(1, x0, 1) SW_Q8_GROUP(2, x0, 2) SW_Q8_GROUP(3, x0, 3)
        SW_Q8_GROUP(4, x1, 0) SW_Q8_GROUP(5, x1, 1) SW_Q8_GROUP(6, x1, 2) SW_Q8_GROUP(7, x1, 3)
#undef SW_Q8_GROUP
        return;
    }
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
#define SW_Q4_GROUP(g)                                                                             \
    for (int v = 0; v < 8; v++) {                                                                  \
        const uint8x16_t q = vld1q_u8(r + (g) * 128 + 16 * v);                                    \
        const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(q, m4)), hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4)); \
        for (int j = 0; j < mr; j++) {                                                             \
            isum[j][v] = vdotq_laneq_s32(isum[j][v], lo, x0[j], g);                               \
            isum[j][v] = vdotq_laneq_s32(isum[j][v], hi, x1[j], g);                               \
        }                                                                                          \
    }
    SW_Q4_GROUP(0) SW_Q4_GROUP(1) SW_Q4_GROUP(2) SW_Q4_GROUP(3)
#undef SW_Q4_GROUP
}

// Without dotprod: widening multiplies by the group's activation dword repeated; pairwise adds
// leave two partial sums per weight row, folded at the end. One activation row at a time (the
// partial sums already take 16 registers).
SW_INLINE void tile_block_mull(const int mr, sw_qtype t, const uint8_t *r, const int8_t *const x[2], int32x4_t isum[2][8]) {
    (void)mr;
    int32x4_t lo[8], hi[8];
    for (int v = 0; v < 8; v++) lo[v] = hi[v] = vdupq_n_s32(0);
    const int32x4_t xw0 = vreinterpretq_s32_s8(vld1q_s8(x[0])), xw1 = vreinterpretq_s32_s8(vld1q_s8(x[0] + 16));
    const int ngroups = t == SW_QTYPE_Q8_0 ? 8 : 4;
    for (int g = 0; g < ngroups; g++) {
        int32x4_t xa, xb;
        switch (g & 3) {  // the lane index of vdupq_laneq must be a constant
            case 0: xa = vdupq_laneq_s32(xw0, 0); xb = vdupq_laneq_s32(xw1, 0); break;
            case 1: xa = vdupq_laneq_s32(xw0, 1); xb = vdupq_laneq_s32(xw1, 1); break;
            case 2: xa = vdupq_laneq_s32(xw0, 2); xb = vdupq_laneq_s32(xw1, 2); break;
            default: xa = vdupq_laneq_s32(xw0, 3); xb = vdupq_laneq_s32(xw1, 3); break;
        }
        const int8x16_t xq = vreinterpretq_s8_s32(t == SW_QTYPE_Q8_0 && g >= 4 ? xb : xa);
        for (int v = 0; v < 8; v++) {
            const uint8x16_t q = vld1q_u8(r + g * 128 + 16 * v);
            if (t == SW_QTYPE_Q8_0) {
                const int8x16_t w = vreinterpretq_s8_u8(veorq_u8(q, vdupq_n_u8(0x80)));
                lo[v] = vpadalq_s16(lo[v], vmull_s8(vget_low_s8(w), vget_low_s8(xq)));
                hi[v] = vpadalq_s16(hi[v], vmull_high_s8(w, xq));
            } else {
                const int8x16_t wl = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F)));
                const int8x16_t wh = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
                const int8x16_t xh = vreinterpretq_s8_s32(xb);
                lo[v] = vpadalq_s16(lo[v], vmlal_s8(vmull_s8(vget_low_s8(wl), vget_low_s8(xq)), vget_low_s8(wh), vget_low_s8(xh)));
                hi[v] = vpadalq_s16(hi[v], vmlal_high_s8(vmull_high_s8(wl, xq), wh, xh));
            }
        }
    }
    for (int v = 0; v < 8; v++) isum[0][v] = vpaddq_s32(lo[v], hi[v]);
}

// Activation rows i0..i0+mr-1 of one packed tile. Every row gets the same float sequence whatever
// mr is, so results do not depend on how rows are grouped.
#define SW_QTILE_ROWS(BLOCK)                                                                       \
    const size_t rec = swi_qrec_bytes(t), xrb = sw_q8a_row_bytes(K);                               \
    const size_t doff = t == SW_QTYPE_Q8_0 ? 1024 : 512;                                           \
    const sw_block_q8a *xb[2];                                                                     \
    const int32_t *xsum[2];                                                                        \
    float32x4_t acc[2][8];                                                                         \
    for (int j = 0; j < mr; j++) {                                                                 \
        xb[j] = (const sw_block_q8a *)(Xq + (size_t)(i0 + j) * xrb);                               \
        xsum[j] = (const int32_t *)(Xq + (size_t)(i0 + j) * xrb + (size_t)nb * sizeof(sw_block_q8a)); \
        for (int v = 0; v < 8; v++) acc[j][v] = vdupq_n_f32(0);                                    \
    }                                                                                              \
    for (int b = 0; b < nb; b++) {                                                                 \
        const uint8_t *r = P + (size_t)b * rec;                                                    \
        const int8_t *x[2];                                                                        \
        int32x4_t isum[2][8];                                                                      \
        for (int j = 0; j < mr; j++) x[j] = xb[j][b].qs;                                           \
        BLOCK(mr, t, r, x, isum);                                                                  \
        for (int j = 0; j < mr; j++) {                                                             \
            if (t == SW_QTYPE_Q4_0) {                                                              \
                const int32x4_t off = vdupq_n_s32(8 * xsum[j][b]);                                 \
                for (int v = 0; v < 8; v++) isum[j][v] = vsubq_s32(isum[j][v], off);               \
            }                                                                                      \
            const float dx = xb[j][b].d, sx = xb[j][b].s;                                          \
            for (int h = 0; h < 4; h++) {                                                          \
                const float16x8_t d8 = vreinterpretq_f16_u8(vld1q_u8(r + doff + 16 * h));          \
                const float32x4_t dw0 = vcvt_f32_f16(vget_low_f16(d8)), dw1 = vcvt_high_f32_f16(d8); \
                acc[j][2 * h] = vfmaq_f32(acc[j][2 * h], dw0, vmulq_n_f32(vcvtq_f32_s32(isum[j][2 * h]), dx)); \
                acc[j][2 * h + 1] = vfmaq_f32(acc[j][2 * h + 1], dw1, vmulq_n_f32(vcvtq_f32_s32(isum[j][2 * h + 1]), dx)); \
                if (t == SW_QTYPE_Q4_1) {                                                          \
                    const float16x8_t m8 = vreinterpretq_f16_u8(vld1q_u8(r + 576 + 16 * h));       \
                    acc[j][2 * h] = vfmaq_n_f32(acc[j][2 * h], vcvt_f32_f16(vget_low_f16(m8)), sx); \
                    acc[j][2 * h + 1] = vfmaq_n_f32(acc[j][2 * h + 1], vcvt_high_f32_f16(m8), sx); \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    for (int j = 0; j < mr; j++) {                                                                 \
        float *y = Y + (size_t)(i0 + j) * ldy;                                                     \
        if (nrows == SW_QTILE) {                                                                   \
            for (int v = 0; v < 8; v++) vst1q_f32(y + 4 * v, acc[j][v]);                          \
        } else {                                                                                   \
            float tmp[SW_QTILE];                                                                   \
            for (int v = 0; v < 8; v++) vst1q_f32(tmp + 4 * v, acc[j][v]);                        \
            memcpy(y, tmp, (size_t)nrows * sizeof(float));                                         \
        }                                                                                          \
    }

SW_INLINE void rows_mull(const int mr, sw_qtype t, const uint8_t *P, int nrows, int nb, int K, const uint8_t *Xq, int i0,
                         float *Y, size_t ldy) {
    SW_QTILE_ROWS(tile_block_mull)
}

SW_NEON_DOTPROD SW_INLINE void rows_sdot(const int mr, sw_qtype t, const uint8_t *P, int nrows, int nb, int K,
                                         const uint8_t *Xq, int i0, float *Y, size_t ldy) {
    SW_QTILE_ROWS(tile_block_sdot)
}

static void qtile_mull(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y, size_t ldy) {
    for (int i = 0; i < m; i++) rows_mull(1, t, P, nrows, K / 32, K, Xq, i, Y, ldy);
}

// Two activation rows per pass over the tile's weights (a third would spill the accumulators).
SW_NEON_DOTPROD static void qtile_sdot(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                                       size_t ldy) {
    int i = 0;
    for (; i + 2 <= m; i += 2) rows_sdot(2, t, P, nrows, K / 32, K, Xq, i, Y, ldy);
    if (i < m) rows_sdot(1, t, P, nrows, K / 32, K, Xq, i, Y, ldy);
}

void swi_qtile_neon(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                    float *Y, size_t ldy, int dotprod) {
    if (dotprod) qtile_sdot(t, P, nrows, K, Xq, m, Y, ldy);
    else qtile_mull(t, P, nrows, K, Xq, m, Y, ldy);
}

// ---------------------------------------------------------------------------------------------
// BF16 matmul: a dword of weights holds bf16 k (low half) and k+1 (high half), so `w << 16` is
// the even element and `w & 0xFFFF0000` the odd one, matching the activations' per-32-chunk
// [16 even | 16 odd] split (see sw_bf16.c).
// ---------------------------------------------------------------------------------------------

static float bf16_dot(const uint16_t *w, int K, const float *xs) {
    float32x4_t ae0 = vdupq_n_f32(0), ao0 = ae0, ae1 = ae0, ao1 = ae0;
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        const int c = k & ~31, h = (k & 31) >> 1;
        const uint32x4_t u0 = vreinterpretq_u32_u16(vld1q_u16(w + k));
        const uint32x4_t u1 = vreinterpretq_u32_u16(vld1q_u16(w + k + 8));
        ae0 = vfmaq_f32(ae0, vreinterpretq_f32_u32(vshlq_n_u32(u0, 16)), vld1q_f32(xs + c + h));
        ao0 = vfmaq_f32(ao0, vreinterpretq_f32_u32(vandq_u32(u0, vdupq_n_u32(0xFFFF0000u))), vld1q_f32(xs + c + 16 + h));
        ae1 = vfmaq_f32(ae1, vreinterpretq_f32_u32(vshlq_n_u32(u1, 16)), vld1q_f32(xs + c + h + 4));
        ao1 = vfmaq_f32(ao1, vreinterpretq_f32_u32(vandq_u32(u1, vdupq_n_u32(0xFFFF0000u))), vld1q_f32(xs + c + 20 + h));
    }
    float acc = vaddvq_f32(vaddq_f32(vaddq_f32(ae0, ao0), vaddq_f32(ae1, ao1)));
    for (; k < K; k++) {
        const int c = k & ~31, j = k & 31;
        const uint32_t u = (uint32_t)w[k] << 16;
        float wf;
        memcpy(&wf, &u, 4);
        acc += wf * xs[c + (j >> 1) + ((j & 1) << 4)];
    }
    return acc;
}

void swi_bf16_rows_neon(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                        float *Y, size_t ldy) {
    for (int r = 0; r < nrows; r++)
        for (int i = 0; i < m; i++)
            Y[(size_t)i * ldy + r] = bf16_dot(W + (size_t)r * K, K, Xs + (size_t)i * Kp);
}
#endif
