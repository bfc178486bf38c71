// The sampler's row passes at the AVX2 level (8 floats a vector; AVX2 + FMA).
#if defined(__x86_64__)
#include "sw_sampling_impl.h"
#include "sw_simd.h"
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

SW_AVX2 static float max_avx2(const float *x, size_t n) {
    // max_ps(v, m) keeps m when v is NaN, like the scalar `v > m ? v : m`.
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
        m2 = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), m2);
        m3 = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), m3);
    }
    for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    m0 = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
    float lanes[8];
    _mm256_storeu_ps(lanes, m0);
    float best = -INFINITY;
    for (int j = 0; j < 8; j++) best = lanes[j] > best ? lanes[j] : best;
    for (; i < n; i++) best = x[i] > best ? x[i] : best;
    return best;
}

SW_AVX2 static size_t find_eq_avx2(const float *x, size_t n, float v) {
    __m256 t = _mm256_set1_ps(v);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        int eq = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), t, _CMP_EQ_OQ));
        if (eq) return i + (size_t)__builtin_ctz((unsigned)eq);
    }
    for (; i < n; i++)
        if (x[i] == v) return i;
    return n;
}

SW_AVX2 static size_t next_gt_avx2(const float *x, size_t start, size_t n, float v) {
    __m256 t = _mm256_set1_ps(v);
    size_t i = start;
    for (; i + 8 <= n; i += 8) {
        int gt = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), t, _CMP_GT_OQ));
        if (gt) return i + (size_t)__builtin_ctz((unsigned)gt);
    }
    for (; i < n; i++)
        if (x[i] > v) return i;
    return n;
}

SW_AVX2 static size_t count_gt_avx2(const float *x, size_t n, float v) {
    __m256 t = _mm256_set1_ps(v);
    // A true comparison is all ones, -1 as an integer: subtracting it counts.
    __m256i c = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        c = _mm256_sub_epi32(c, _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(x + i), t, _CMP_GT_OQ)));
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, c);
    size_t total = 0;
    for (int j = 0; j < 8; j++) total += lanes[j];
    for (; i < n; i++) total += x[i] > v;
    return total;
}

// Weights of 8 logits: 0 where the argument is below the exp range or the weight below floor.
SW_AVX2 static inline __m256 weights8(__m256 x, __m256 max, __m256 scale, __m256 floor) {
    __m256 a = _mm256_mul_ps(_mm256_sub_ps(x, max), scale);
    __m256 live = _mm256_cmp_ps(a, _mm256_set1_ps(SW_SAMPLING_EXP_MIN), _CMP_GE_OQ);
    __m256 e = sw_exp256(a);
    live = _mm256_and_ps(live, _mm256_cmp_ps(e, floor, _CMP_GE_OQ));
    return _mm256_and_ps(e, live);
}

SW_AVX2 static inline __m256d widen_lo(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
SW_AVX2 static inline __m256d widen_hi(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

SW_AVX2 static inline double hsum(__m256d s) {
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

SW_AVX2 static double exp_weights_avx2(const float *x, float *out, size_t n, float max, float scale, float floor) {
    __m256 vmax = _mm256_set1_ps(max), vs = _mm256_set1_ps(scale), vf = _mm256_set1_ps(floor);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = weights8(_mm256_loadu_ps(x + i), vmax, vs, vf);
        __m256 e1 = weights8(_mm256_loadu_ps(x + i + 8), vmax, vs, vf);
        if (out) {
            _mm256_storeu_ps(out + i, e0);
            _mm256_storeu_ps(out + i + 8, e1);
        }
        s0 = _mm256_add_pd(s0, widen_lo(e0));
        s1 = _mm256_add_pd(s1, widen_hi(e0));
        s2 = _mm256_add_pd(s2, widen_lo(e1));
        s3 = _mm256_add_pd(s3, widen_hi(e1));
    }
    for (; i < n; i += 8) {
        // The tail goes through the same vector code, padded with -inf (weight 0).
        float pad[8];
        size_t left = n - i < 8 ? n - i : 8;
        for (int j = 0; j < 8; j++) pad[j] = -INFINITY;
        memcpy(pad, x + i, left * sizeof(float));
        __m256 e = weights8(_mm256_loadu_ps(pad), vmax, vs, vf);
        _mm256_storeu_ps(pad, e);
        if (out) memcpy(out + i, pad, left * sizeof(float));
        s0 = _mm256_add_pd(s0, widen_lo(e));
        s1 = _mm256_add_pd(s1, widen_hi(e));
    }
    return hsum(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
}

// Whole blocks of 32 weights while their sum leaves target >= 0.
SW_AVX2 static size_t cdf_skip_avx2(const float *w, size_t n, double *target) {
    double t = *target;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 a = _mm256_loadu_ps(w + i), b = _mm256_loadu_ps(w + i + 8);
        __m256 c = _mm256_loadu_ps(w + i + 16), d = _mm256_loadu_ps(w + i + 24);
        __m256d s = _mm256_add_pd(_mm256_add_pd(widen_lo(a), widen_hi(a)), _mm256_add_pd(widen_lo(b), widen_hi(b)));
        s = _mm256_add_pd(s, _mm256_add_pd(_mm256_add_pd(widen_lo(c), widen_hi(c)), _mm256_add_pd(widen_lo(d), widen_hi(d))));
        double bs = hsum(s);
        if (t - bs < 0) break;
        t -= bs;
    }
    *target = t;
    return i;
}

const sw_sampling_ops sw_sampling_ops_avx2 = {
    max_avx2, find_eq_avx2, next_gt_avx2, count_gt_avx2, exp_weights_avx2, cdf_skip_avx2,
};
#endif
