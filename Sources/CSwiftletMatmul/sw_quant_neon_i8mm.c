// The NEON packed-tile quantized kernel with i8mm (smmla / usmmla), for two or more activation
// rows; bit-identical to the sdot kernel in sw_quant_neon.c, which also does an odd last row.
//
// smmla multiplies a 2x8 by an 8x2 int8 block: 2 weight rows x 2 activation rows x 8 k, twice
// the work of an sdot. It needs each weight row's 8 k in one 8-byte half of a register, while
// a packed record (sw_quant.h) holds 4 k per row per group: one 16-byte load is 4 rows x 4 k.
// zip1/zip2 of groups g and g+1 give rows (0,1) and (2,3) of 8 k each, so reading records
// directly would cost a zip per smmla and gain little over sdot. Instead each K chunk of the
// tile is rearranged once into scratch ("octets": per 8 k, row pairs of 8 + 8 bytes; Q4 nibbles
// split), which every pair of activation rows then reads with plain loads: per block of 32 rows
// x 2 activation rows, 64 (us)mmla and 64 loads against the sdot kernel's 128 sdot, 64 loads
// and 64 eor (Q4: 32 loads, 32 and, 32 shifts). The rearrangement (64 loads, zips and stores
// per block) is shared by all m / 2 pairs. Q8_0 keeps the record's w + 128 and uses usmmla
// (u8 x s8) with -128 * sum(x), like the VNNI kernels, so its octets are pure data movement.
// Not measured: qemu gives no timings and no i8mm hardware was at hand.
//
// Integer sums are exact, and every (row, activation row) pair gets the sdot kernel's float
// sequence per block, acc = fma(acc, dw, isum * dx) (then + m * s), with acc kept in Y between
// chunks, so results do not depend on m, on the pairing or on which kernel ran.
#include "sw_quant.h"
#include "sw_quant_neon.h"

#if defined(__aarch64__)
#include "sw_quant_impl.h"
#include <string.h>

#define SW_NEON_I8MM __attribute__((target("dotprod,i8mm")))
#define SW_INLINE static inline __attribute__((always_inline))
#define KCB 16      // blocks per chunk: 16 KB of octets
#define OB 1024     // octet bytes per block: [4 octets][16 row pairs][8 + 8 bytes]

// One block record into octets. Octet o covers k 8o..8o+7: for Q8_0 groups 2o and 2o+1, for Q4
// the low nibbles of groups 2o, 2o+1 (o < 2) or the high ones of groups 2o-4, 2o-3.
SW_INLINE void to_octets(sw_qtype t, const uint8_t *r, uint8_t *dst) {
    for (int gp = 0; gp < (t == SW_QTYPE_Q8_0 ? 4 : 2); gp++)
        for (int q = 0; q < 8; q++) {
            const uint32x4_t a = vld1q_u32((const uint32_t *)(r + 2 * gp * 128 + 16 * q));
            const uint32x4_t b = vld1q_u32((const uint32_t *)(r + (2 * gp + 1) * 128 + 16 * q));
            // Rows 4q, 4q+1 and 4q+2, 4q+3, each as [k of group 2gp | k of group 2gp+1].
            const uint8x16_t p01 = vreinterpretq_u8_u32(vzip1q_u32(a, b));
            const uint8x16_t p23 = vreinterpretq_u8_u32(vzip2q_u32(a, b));
            uint8_t *d = dst + gp * 256 + q * 32;
            if (t == SW_QTYPE_Q8_0) {
                vst1q_u8(d, p01);
                vst1q_u8(d + 16, p23);
            } else {
                const uint8x16_t m4 = vdupq_n_u8(0x0F);
                vst1q_u8(d, vandq_u8(p01, m4));
                vst1q_u8(d + 16, vandq_u8(p23, m4));
                vst1q_u8(d + 512, vshrq_n_u8(p01, 4));
                vst1q_u8(d + 512 + 16, vshrq_n_u8(p23, 4));
            }
        }
}

// Rows 16h..16h+15 of the tile x activation rows x0, x1 (their q8a rows), blocks kb0.. of one
// chunk (O: its octets, R: its records for the scales). acc[j]: the pair's running sums.
SW_NEON_I8MM SW_INLINE void half_pair(sw_qtype t, int h, const uint8_t *O, const uint8_t *R, int kb0, int kcb,
                                      const sw_block_q8a *const xb[2], const int32_t *const xsum[2],
                                      float32x4_t acc[2][4]) {
    const size_t rec = swi_qrec_bytes(t), doff = t == SW_QTYPE_Q8_0 ? 1024 : 512;
    const int32_t off = t == SW_QTYPE_Q8_0 ? 128 : t == SW_QTYPE_Q4_0 ? 8 : 0;
    for (int bi = 0; bi < kcb; bi++) {
        const int b = kb0 + bi;
        const uint8_t *o = O + (size_t)bi * OB + h * 128;
        const uint8_t *r = R + (size_t)bi * rec;
        int32x4_t s[8];
        for (int p = 0; p < 8; p++) s[p] = vdupq_n_s32(0);
        for (int oc = 0; oc < 4; oc++) {
            const int8x16_t xo = vcombine_s8(vld1_s8(xb[0][b].qs + 8 * oc), vld1_s8(xb[1][b].qs + 8 * oc));
            for (int p = 0; p < 8; p++) {
                const uint8x16_t w = vld1q_u8(o + oc * 256 + 16 * p);
                s[p] = t == SW_QTYPE_Q8_0 ? vusmmlaq_s32(s[p], w, xo) : vmmlaq_s32(s[p], vreinterpretq_s8_u8(w), xo);
            }
        }
        // s[2q] = [r0.x0, r0.x1, r1.x0, r1.x1], s[2q+1] likewise for r2, r3 (rows 16h+4q..).
        for (int q = 0; q < 4; q++) {
            int32x4_t is[2] = {vuzp1q_s32(s[2 * q], s[2 * q + 1]), vuzp2q_s32(s[2 * q], s[2 * q + 1])};
            const float16x4_t d4 = vreinterpret_f16_u8(vld1_u8(r + doff + 2 * (16 * h + 4 * q)));
            const float32x4_t dw = vcvt_f32_f16(d4);
            for (int j = 0; j < 2; j++) {
                if (off) is[j] = vsubq_s32(is[j], vdupq_n_s32(off * xsum[j][b]));
                acc[j][q] = vfmaq_f32(acc[j][q], dw, vmulq_n_f32(vcvtq_f32_s32(is[j]), xb[j][b].d));
                if (t == SW_QTYPE_Q4_1) {
                    const float16x4_t m4 = vreinterpret_f16_u8(vld1_u8(r + 576 + 2 * (16 * h + 4 * q)));
                    acc[j][q] = vfmaq_n_f32(acc[j][q], vcvt_f32_f16(m4), xb[j][b].s);
                }
            }
        }
    }
}

SW_NEON_I8MM static void qtile_i8mm(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                                    float *Y, size_t ldy) {
    _Alignas(16) uint8_t oct[KCB * OB];
    const int nb = K / 32;
    const size_t rec = swi_qrec_bytes(t), xrb = sw_q8a_row_bytes(K);
    const int mp = m & ~1;
    for (int kb0 = 0; kb0 < nb; kb0 += KCB) {
        const int kcb = nb - kb0 < KCB ? nb - kb0 : KCB;
        const uint8_t *R = P + (size_t)kb0 * rec;
        for (int bi = 0; bi < kcb; bi++) to_octets(t, R + (size_t)bi * rec, oct + (size_t)bi * OB);
        for (int i = 0; i < mp; i += 2) {
            const sw_block_q8a *xb[2];
            const int32_t *xsum[2];
            float *y[2];
            for (int j = 0; j < 2; j++) {
                xb[j] = (const sw_block_q8a *)(Xq + (size_t)(i + j) * xrb);
                xsum[j] = (const int32_t *)(Xq + (size_t)(i + j) * xrb + (size_t)nb * sizeof(sw_block_q8a));
                y[j] = Y + (size_t)(i + j) * ldy;
            }
            for (int h = 0; h < 2 && 16 * h < nrows; h++) {
                // Sums carry over between chunks through Y (exactly: a float store and load).
                const int n = nrows - 16 * h < 16 ? nrows - 16 * h : 16;
                float32x4_t acc[2][4];
                for (int j = 0; j < 2; j++) {
                    float tmp[16] = {0};
                    if (kb0 > 0) memcpy(tmp, y[j] + 16 * h, (size_t)n * sizeof(float));
                    for (int q = 0; q < 4; q++) acc[j][q] = vld1q_f32(tmp + 4 * q);
                }
                half_pair(t, h, oct, R, kb0, kcb, xb, xsum, acc);
                for (int j = 0; j < 2; j++) {
                    float tmp[16];
                    for (int q = 0; q < 4; q++) vst1q_f32(tmp + 4 * q, acc[j][q]);
                    memcpy(y[j] + 16 * h, tmp, (size_t)n * sizeof(float));
                }
            }
        }
    }
    if (mp < m) swi_qtile_neon(t, P, nrows, K, Xq + (size_t)mp * xrb, 1, Y + (size_t)mp * ldy, ldy, 1);
}

void swi_qtile_neon_i8mm(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                         float *Y, size_t ldy) {
    if (m < 2) swi_qtile_neon(t, P, nrows, K, Xq, m, Y, ldy, 1);
    else qtile_i8mm(t, P, nrows, K, Xq, m, Y, ldy);
}
#endif
