// The sampler's row passes at the NEON level (aarch64 Advanced SIMD, 4 floats a vector).
#if defined(__aarch64__)
#include "sw_sampling_impl.h"
#include "sw_neon.h"
#include <arm_neon.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

// vmaxq_f32 would propagate NaN; a compare and select keeps m as the scalar `v > m ? v : m` does.
static inline float32x4_t max_keep(float32x4_t v, float32x4_t m) { return vbslq_f32(vcgtq_f32(v, m), v, m); }

static float max_neon(const float *x, size_t n) {
    float32x4_t m0 = vdupq_n_f32(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = max_keep(vld1q_f32(x + i), m0);
        m1 = max_keep(vld1q_f32(x + i + 4), m1);
        m2 = max_keep(vld1q_f32(x + i + 8), m2);
        m3 = max_keep(vld1q_f32(x + i + 12), m3);
    }
    for (; i + 4 <= n; i += 4) m0 = max_keep(vld1q_f32(x + i), m0);
    float best = vmaxvq_f32(vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3)));
    for (; i < n; i++) best = x[i] > best ? x[i] : best;
    return best;
}

// Lane mask of a comparison as 4 bits, lowest lane first.
static inline unsigned bits4(uint32x4_t c) {
    static const uint32_t weight[4] = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(c, vld1q_u32(weight)));
}

static size_t find_eq_neon(const float *x, size_t n, float v) {
    float32x4_t t = vdupq_n_f32(v);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        unsigned eq = bits4(vceqq_f32(vld1q_f32(x + i), t));
        if (eq) return i + (size_t)__builtin_ctz(eq);
    }
    for (; i < n; i++)
        if (x[i] == v) return i;
    return n;
}

static size_t next_gt_neon(const float *x, size_t start, size_t n, float v) {
    float32x4_t t = vdupq_n_f32(v);
    size_t i = start;
    for (; i + 8 <= n; i += 8) {
        uint32x4_t a = vcgtq_f32(vld1q_f32(x + i), t), b = vcgtq_f32(vld1q_f32(x + i + 4), t);
        if (vmaxvq_u32(vorrq_u32(a, b)) == 0) continue;
        unsigned gt = bits4(a) | bits4(b) << 4;
        return i + (size_t)__builtin_ctz(gt);
    }
    for (; i < n; i++)
        if (x[i] > v) return i;
    return n;
}

static size_t count_gt_neon(const float *x, size_t n, float v) {
    float32x4_t t = vdupq_n_f32(v);
    // A true comparison is all ones: shifting it down to 1 counts.
    uint32x4_t c = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) c = vsraq_n_u32(c, vcgtq_f32(vld1q_f32(x + i), t), 31);
    size_t total = vaddvq_u32(c);
    for (; i < n; i++) total += x[i] > v;
    return total;
}

static inline float32x4_t weights4(float32x4_t x, float32x4_t max, float32x4_t scale, float32x4_t floor) {
    float32x4_t a = vmulq_f32(vsubq_f32(x, max), scale);
    uint32x4_t live = vcgeq_f32(a, vdupq_n_f32(SW_SAMPLING_EXP_MIN));
    float32x4_t e = sw_exp_neon(a);
    live = vandq_u32(live, vcgeq_f32(e, floor));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), live));
}

static double exp_weights_neon(const float *x, float *out, size_t n, float max, float scale, float floor) {
    float32x4_t vmax = vdupq_n_f32(max), vs = vdupq_n_f32(scale), vf = vdupq_n_f32(floor);
    float64x2_t s0 = vdupq_n_f64(0), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t e0 = weights4(vld1q_f32(x + i), vmax, vs, vf);
        float32x4_t e1 = weights4(vld1q_f32(x + i + 4), vmax, vs, vf);
        if (out) {
            vst1q_f32(out + i, e0);
            vst1q_f32(out + i + 4, e1);
        }
        s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e0)));
        s1 = vaddq_f64(s1, vcvt_high_f64_f32(e0));
        s2 = vaddq_f64(s2, vcvt_f64_f32(vget_low_f32(e1)));
        s3 = vaddq_f64(s3, vcvt_high_f64_f32(e1));
    }
    for (; i < n; i += 4) {
        // The tail goes through the same vector code, padded with -inf (weight 0).
        float pad[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
        size_t left = n - i < 4 ? n - i : 4;
        memcpy(pad, x + i, left * sizeof(float));
        float32x4_t e = weights4(vld1q_f32(pad), vmax, vs, vf);
        vst1q_f32(pad, e);
        if (out) memcpy(out + i, pad, left * sizeof(float));
        s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e)));
        s1 = vaddq_f64(s1, vcvt_high_f64_f32(e));
    }
    return vaddvq_f64(vaddq_f64(vaddq_f64(s0, s1), vaddq_f64(s2, s3)));
}

// Whole blocks of 16 weights while their sum leaves target >= 0.
static size_t cdf_skip_neon(const float *w, size_t n, double *target) {
    double t = *target;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t a = vld1q_f32(w + i), b = vld1q_f32(w + i + 4), c = vld1q_f32(w + i + 8), d = vld1q_f32(w + i + 12);
        float64x2_t s = vaddq_f64(vcvt_f64_f32(vget_low_f32(a)), vcvt_high_f64_f32(a));
        s = vaddq_f64(s, vaddq_f64(vcvt_f64_f32(vget_low_f32(b)), vcvt_high_f64_f32(b)));
        s = vaddq_f64(s, vaddq_f64(vcvt_f64_f32(vget_low_f32(c)), vcvt_high_f64_f32(c)));
        s = vaddq_f64(s, vaddq_f64(vcvt_f64_f32(vget_low_f32(d)), vcvt_high_f64_f32(d)));
        double bs = vaddvq_f64(s);
        if (t - bs < 0) break;
        t -= bs;
    }
    *target = t;
    return i;
}

const sw_sampling_ops sw_sampling_ops_neon = {
    max_neon, find_eq_neon, next_gt_neon, count_gt_neon, exp_weights_neon, cdf_skip_neon,
};
#endif
