// The sampler's row passes at the AVX-512 level (16 floats a vector).
#if defined(__x86_64__)
#include "sw_sampling_impl.h"
#include "sw_simd.h"
#include <math.h>
#include <stdint.h>

// Lanes below i..n switched off: the tail of a row.
SW_AVX512 static inline __mmask16 tail_mask(size_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

SW_AVX512 static float max_avx512(const float *x, size_t n) {
    // max_ps(v, m) keeps m when v is NaN, like the scalar `v > m ? v : m`.
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
        m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
        m2 = _mm512_max_ps(_mm512_loadu_ps(x + i + 32), m2);
        m3 = _mm512_max_ps(_mm512_loadu_ps(x + i + 48), m3);
    }
    for (; i < n; i += 16) {
        __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(n - i), x + i);
        m0 = _mm512_max_ps(v, m0);
    }
    m0 = _mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3));
    return _mm512_reduce_max_ps(m0);
}

SW_AVX512 static size_t find_eq_avx512(const float *x, size_t n, float v) {
    __m512 t = _mm512_set1_ps(v);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), t, _CMP_EQ_OQ);
        if (eq) return i + (size_t)__builtin_ctz(eq);
    }
    if (i < n) {
        __mmask16 k = tail_mask(n - i);
        __mmask16 eq = _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, x + i), t, _CMP_EQ_OQ);
        if (eq) return i + (size_t)__builtin_ctz(eq);
    }
    return n;
}

SW_AVX512 static size_t next_gt_avx512(const float *x, size_t start, size_t n, float v) {
    __m512 t = _mm512_set1_ps(v);
    size_t i = start;
    // Two vectors a step: most of a row is skipped, so the loop is one test per 32 values.
    for (; i + 32 <= n; i += 32) {
        __mmask16 a = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), t, _CMP_GT_OQ);
        __mmask16 b = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 16), t, _CMP_GT_OQ);
        uint32_t gt = (uint32_t)a | (uint32_t)b << 16;
        if (gt) return i + (size_t)__builtin_ctz(gt);
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __mmask16 gt = _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, x + i), t, _CMP_GT_OQ);
        if (gt) return i + (size_t)__builtin_ctz(gt);
    }
    return n;
}

SW_AVX512 static size_t count_gt_avx512(const float *x, size_t n, float v) {
    __m512 t = _mm512_set1_ps(v);
    size_t c0 = 0, c1 = 0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        c0 += (size_t)__builtin_popcount(_mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), t, _CMP_GT_OQ));
        c1 += (size_t)__builtin_popcount(_mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 16), t, _CMP_GT_OQ));
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        c0 += (size_t)__builtin_popcount(_mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, x + i), t, _CMP_GT_OQ));
    }
    return c0 + c1;
}

// Weights of 16 logits; lanes outside `live` are 0.
SW_AVX512 static inline __m512 weights16(__m512 x, __mmask16 live, __m512 max, __m512 scale, __m512 floor) {
    __m512 a = _mm512_mul_ps(_mm512_sub_ps(x, max), scale);
    live &= _mm512_cmp_ps_mask(a, _mm512_set1_ps(SW_SAMPLING_EXP_MIN), _CMP_GE_OQ);
    __m512 e = sw_exp512(_mm512_min_ps(a, _mm512_set1_ps(88.0f)));
    live &= _mm512_cmp_ps_mask(e, floor, _CMP_GE_OQ);
    return _mm512_maskz_mov_ps(live, e);
}

SW_AVX512 static inline __m512d widen_lo(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
SW_AVX512 static inline __m512d widen_hi(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }

SW_AVX512 static double exp_weights_avx512(const float *x, float *out, size_t n, float max, float scale,
                                           float floor) {
    __m512 vmax = _mm512_set1_ps(max), vs = _mm512_set1_ps(scale), vf = _mm512_set1_ps(floor);
    // Four double accumulators: the weights' sum is a double, as in the scalar code.
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 e0 = weights16(_mm512_loadu_ps(x + i), 0xFFFF, vmax, vs, vf);
        __m512 e1 = weights16(_mm512_loadu_ps(x + i + 16), 0xFFFF, vmax, vs, vf);
        if (out) {
            _mm512_storeu_ps(out + i, e0);
            _mm512_storeu_ps(out + i + 16, e1);
        }
        s0 = _mm512_add_pd(s0, widen_lo(e0));
        s1 = _mm512_add_pd(s1, widen_hi(e0));
        s2 = _mm512_add_pd(s2, widen_lo(e1));
        s3 = _mm512_add_pd(s3, widen_hi(e1));
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 e = weights16(_mm512_maskz_loadu_ps(k, x + i), k, vmax, vs, vf);
        if (out) _mm512_mask_storeu_ps(out + i, k, e);
        s0 = _mm512_add_pd(s0, widen_lo(e));
        s1 = _mm512_add_pd(s1, widen_hi(e));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
}

// Whole blocks of 64 weights while their sum leaves target >= 0.
SW_AVX512 static size_t cdf_skip_avx512(const float *w, size_t n, double *target) {
    double t = *target;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 a = _mm512_loadu_ps(w + i), b = _mm512_loadu_ps(w + i + 16);
        __m512 c = _mm512_loadu_ps(w + i + 32), d = _mm512_loadu_ps(w + i + 48);
        __m512d s = _mm512_add_pd(_mm512_add_pd(widen_lo(a), widen_hi(a)), _mm512_add_pd(widen_lo(b), widen_hi(b)));
        s = _mm512_add_pd(s, _mm512_add_pd(_mm512_add_pd(widen_lo(c), widen_hi(c)), _mm512_add_pd(widen_lo(d), widen_hi(d))));
        double bs = _mm512_reduce_add_pd(s);
        if (t - bs < 0) break;
        t -= bs;
    }
    *target = t;
    return i;
}

const sw_sampling_ops sw_sampling_ops_avx512 = {
    max_avx512, find_eq_avx512, next_gt_avx512, count_gt_avx512, exp_weights_avx512, cdf_skip_avx512,
};
#endif
