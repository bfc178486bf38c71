// NEON versions of the row converters (f32 <-> bf16 / f16) and the activation quantization of
// sw_convert.c and sw_quant_q8a.c, bit-identical to the scalar code.
#include "sw_quant.h"
#include "sw_quant_neon.h"

#if defined(__aarch64__)
#include <string.h>

// ---------------------------------------------------------------------------------------------
// Converters (bit-identical to the scalar ones in sw_convert.c)
// ---------------------------------------------------------------------------------------------

static inline uint16x4_t f32_to_bf16_4(float32x4_t x) {
    const uint32x4_t u = vreinterpretq_u32_f32(x);
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(u, vaddq_u32(vdupq_n_u32(0x7fff), odd)), 16);
    // NaN (|u| above infinity) keeps its top bits with the quiet bit set instead of rounding.
    const uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
    const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x40));
    return vmovn_u32(vbslq_u32(nan, quiet, rounded));
}

void swi_f32_to_bf16_neon(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        vst1q_u16(y + i, vcombine_u16(f32_to_bf16_4(vld1q_f32(x + i)), f32_to_bf16_4(vld1q_f32(x + i + 4))));
    if (i < n) {
        float t[8] = {0};
        uint16_t o[8];
        memcpy(t, x + i, (n - i) * sizeof(float));
        vst1q_u16(o, vcombine_u16(f32_to_bf16_4(vld1q_f32(t)), f32_to_bf16_4(vld1q_f32(t + 4))));
        memcpy(y + i, o, (n - i) * sizeof(uint16_t));
    }
}

void swi_bf16_to_f32_neon(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t h = vld1q_u16(x + i);
        vst1q_f32(y + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
        vst1q_f32(y + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
    }
    for (; i < n; i++) {
        const uint32_t u = (uint32_t)x[i] << 16;
        memcpy(y + i, &u, 4);
    }
}

// FCVT is exact and quiets NaNs keeping their payload, as the scalar converter does.
static inline float32x4_t f16_to_f32_4(uint16x4_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(h)); }

void swi_f16_to_f32_neon(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t h = vld1q_u16(x + i);
        vst1q_f32(y + i, f16_to_f32_4(vget_low_u16(h)));
        vst1q_f32(y + i + 4, f16_to_f32_4(vget_high_u16(h)));
    }
    for (; i < n; i++) y[i] = sw_f16_to_f32_1(x[i]);
}

// FCVT rounds to nearest even, overflows to infinity and keeps subnormals (Linux runs with
// FPCR.FZ16 clear), as the scalar converter does; NaNs come out quiet with their top payload bits.
void swi_f32_to_f16_neon(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t h = vcombine_f16(vcvt_f16_f32(vld1q_f32(x + i)), vcvt_f16_f32(vld1q_f32(x + i + 4)));
        vst1q_u16(y + i, vreinterpretq_u16_f16(h));
    }
    for (; i < n; i++) y[i] = sw_f32_to_f16_1(x[i]);
}

// ---------------------------------------------------------------------------------------------
// Activation quantization (bit-identical to the scalar code: same d, id, round-to-nearest-even)
// ---------------------------------------------------------------------------------------------

void swi_quantize_q8a_neon(const float *x, size_t ldx, int m, int k, void *out) {
    const int nb = k / 32;
    const size_t rbytes = sw_q8a_row_bytes(k);
    for (int i = 0; i < m; i++) {
        uint8_t *row = (uint8_t *)out + (size_t)i * rbytes;
        sw_block_q8a *blk = (sw_block_q8a *)row;
        int32_t *sums = (int32_t *)(row + (size_t)nb * sizeof(sw_block_q8a));
        const float *xr = x + (size_t)i * ldx;
        for (int b = 0; b < nb; b++) {
            float32x4_t v[8];
            float32x4_t mx = vdupq_n_f32(0);
            for (int j = 0; j < 8; j++) {
                v[j] = vld1q_f32(xr + 32 * b + 4 * j);
                mx = vmaxq_f32(mx, vabsq_f32(v[j]));
            }
            const float amax = vmaxvq_f32(mx);
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            int32x4_t q[8];
            int32x4_t s = vdupq_n_s32(0);
            for (int j = 0; j < 8; j++) {
                q[j] = vcvtnq_s32_f32(vmulq_n_f32(v[j], id));
                s = vaddq_s32(s, q[j]);
            }
            for (int h = 0; h < 2; h++) {
                const int16x8_t a = vcombine_s16(vmovn_s32(q[4 * h]), vmovn_s32(q[4 * h + 1]));
                const int16x8_t c = vcombine_s16(vmovn_s32(q[4 * h + 2]), vmovn_s32(q[4 * h + 3]));
                vst1q_s8(blk[b].qs + 16 * h, vcombine_s8(vmovn_s16(a), vmovn_s16(c)));
            }
            const int32_t sum = vaddvq_s32(s);
            blk[b].d = d;
            blk[b].s = d * (float)sum;
            sums[b] = sum;
        }
    }
}
#endif
