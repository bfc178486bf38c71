// NEON versions of the row-wise transformer ops in sw_ops.c. Reductions keep four partial sums
// so that a row is not one chain of dependent adds.
#include "sw_ops.h"
#include "sw_ops_neon.h"

#if defined(__aarch64__)
#include <math.h>

static inline float sum_squares(const float *x, int n) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        const float32x4_t c = vld1q_f32(x + i + 8), d = vld1q_f32(x + i + 12);
        s0 = vfmaq_f32(s0, a, a);
        s1 = vfmaq_f32(s1, b, b);
        s2 = vfmaq_f32(s2, c, c);
        s3 = vfmaq_f32(s3, d, d);
    }
    for (; i + 4 <= n; i += 4) {
        const float32x4_t a = vld1q_f32(x + i);
        s0 = vfmaq_f32(s0, a, a);
    }
    float ss = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) ss += x[i] * x[i];
    return ss;
}

void swi_rmsnorm_neon(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *o = out + (size_t)r * ldo;
        const float scale = 1.0f / sqrtf(sum_squares(xr, n) / (float)n + eps);
        const float32x4_t vs = vdupq_n_f32(scale);
        int i = 0;
        for (; i + 4 <= n; i += 4)
            vst1q_f32(o + i, vmulq_f32(vmulq_f32(vld1q_f32(xr + i), vs), vld1q_f32(w + i)));
        for (; i < n; i++) o[i] = xr[i] * scale * w[i];
    }
}

void swi_layernorm_neon(const float *x, size_t ldx, const float *w, const float *b, float *out, size_t ldo, int rows, int n, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *o = out + (size_t)r * ldo;
        float32x4_t s0 = vdupq_n_f32(0), s1 = s0;
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            s0 = vaddq_f32(s0, vld1q_f32(xr + i));
            s1 = vaddq_f32(s1, vld1q_f32(xr + i + 4));
        }
        float mean = vaddvq_f32(vaddq_f32(s0, s1));
        for (; i < n; i++) mean += xr[i];
        mean /= (float)n;
        // Two passes (mean, then squared deviations) as the scalar code does: E[x^2] - mean^2
        // cancels badly for rows with a large mean.
        const float32x4_t vm = vdupq_n_f32(mean);
        s0 = vdupq_n_f32(0);
        s1 = s0;
        for (i = 0; i + 8 <= n; i += 8) {
            const float32x4_t d0 = vsubq_f32(vld1q_f32(xr + i), vm), d1 = vsubq_f32(vld1q_f32(xr + i + 4), vm);
            s0 = vfmaq_f32(s0, d0, d0);
            s1 = vfmaq_f32(s1, d1, d1);
        }
        float var = vaddvq_f32(vaddq_f32(s0, s1));
        for (; i < n; i++) { const float d = xr[i] - mean; var += d * d; }
        const float scale = 1.0f / sqrtf(var / (float)n + eps);
        const float32x4_t vs = vdupq_n_f32(scale);
        for (i = 0; i + 4 <= n; i += 4) {
            float32x4_t y = vmulq_f32(vmulq_f32(vsubq_f32(vld1q_f32(xr + i), vm), vs), vld1q_f32(w + i));
            if (b) y = vaddq_f32(y, vld1q_f32(b + i));
            vst1q_f32(o + i, y);
        }
        for (; i < n; i++) o[i] = (xr[i] - mean) * scale * w[i] + (b ? b[i] : 0.0f);
    }
}

void swi_rope_apply_neon(float *x, size_t ld, int rows, int n_heads, int head_dim, int rot_dim,
                         const float *cs, int halves) {
    const int half = rot_dim / 2;
    for (int r = 0; r < rows; r++) {
        const float *cosv = cs + (size_t)r * half * 2, *sinv = cosv + half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)r * ld + (size_t)h * head_dim;
            int i = 0;
            if (halves) {
                for (; i + 4 <= half; i += 4) {
                    const float32x4_t a = vld1q_f32(v + i), b = vld1q_f32(v + i + half);
                    const float32x4_t c = vld1q_f32(cosv + i), s = vld1q_f32(sinv + i);
                    vst1q_f32(v + i, vfmsq_f32(vmulq_f32(a, c), b, s));
                    vst1q_f32(v + i + half, vfmaq_f32(vmulq_f32(b, c), a, s));
                }
                for (; i < half; i++) {
                    const float a = v[i], b = v[i + half];
                    v[i] = a * cosv[i] - b * sinv[i];
                    v[i + half] = b * cosv[i] + a * sinv[i];
                }
            } else {
                // Adjacent pairs: a de-interleaving load puts the even dims in val[0], odd in val[1].
                for (; i + 4 <= half; i += 4) {
                    const float32x4x2_t p = vld2q_f32(v + 2 * i);
                    const float32x4_t c = vld1q_f32(cosv + i), s = vld1q_f32(sinv + i);
                    float32x4x2_t q;
                    q.val[0] = vfmsq_f32(vmulq_f32(p.val[0], c), p.val[1], s);
                    q.val[1] = vfmaq_f32(vmulq_f32(p.val[1], c), p.val[0], s);
                    vst2q_f32(v + 2 * i, q);
                }
                for (; i < half; i++) {
                    const float a = v[2 * i], b = v[2 * i + 1];
                    v[2 * i] = a * cosv[i] - b * sinv[i];
                    v[2 * i + 1] = b * cosv[i] + a * sinv[i];
                }
            }
        }
    }
}

void swi_silu_mul_neon(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    for (int r = 0; r < rows; r++) {
        const float *g = gu + (size_t)r * ldgu, *u = g + n;
        float *o = out + (size_t)r * ldo;
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            const float32x4_t x = vld1q_f32(g + i);
            // silu(x) = x / (1 + e^-x); sw_exp_neon clamps, so e^-x stays finite.
            const float32x4_t e = sw_exp_neon(vnegq_f32(x));
            vst1q_f32(o + i, vmulq_f32(vdivq_f32(x, vaddq_f32(one, e)), vld1q_f32(u + i)));
        }
        for (; i < n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void swi_gelu_tanh_neon(float *x, size_t n) {
    const float k = 0.7978845608028654f;  // sqrt(2/pi)
    const float32x4_t vk = vdupq_n_f32(k), c = vdupq_n_f32(0.044715f), half = vdupq_n_f32(0.5f);
    const float32x4_t one = vdupq_n_f32(1.0f), two = vdupq_n_f32(2.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        const float32x4_t y = vmulq_f32(vk, vfmaq_f32(v, vmulq_f32(c, v), vmulq_f32(v, v)));
        // tanh(y) = 1 - 2 / (e^{2y} + 1): finite at both ends thanks to the clamp in sw_exp_neon.
        const float32x4_t t = vsubq_f32(one, vdivq_f32(two, vaddq_f32(sw_exp_neon(vmulq_f32(two, y)), one)));
        vst1q_f32(x + i, vmulq_f32(vmulq_f32(half, v), vaddq_f32(one, t)));
    }
    for (; i < n; i++) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void swi_add_rows_neon(float *y, size_t ldy, const float *x, size_t ldx, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * ldy;
        const float *xr = x + (size_t)r * ldx;
        int i = 0;
        for (; i + 4 <= n; i += 4) vst1q_f32(yr + i, vaddq_f32(vld1q_f32(yr + i), vld1q_f32(xr + i)));
        for (; i < n; i++) yr[i] += xr[i];
    }
}

void swi_add_bias_neon(float *y, size_t ldy, const float *b, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * ldy;
        int i = 0;
        for (; i + 4 <= n; i += 4) vst1q_f32(yr + i, vaddq_f32(vld1q_f32(yr + i), vld1q_f32(b + i)));
        for (; i < n; i++) yr[i] += b[i];
    }
}
#endif
