// AVX2 row operations (the SW_ISA_AVX2 level of sw_ops.c). Tails shorter than a vector go through
// masked loads and stores, so any row length works.
#include <math.h>
#include "sw_ops_impl.h"
#include "sw_simd.h"

#if defined(__x86_64__)

SW_AVX2 static inline __m256 load_n(const float *p, int n) {
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, sw_mask256(n));
}
SW_AVX2 static inline void store_n(float *p, __m256 v, int n) {
    if (n >= 8) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, sw_mask256(n), v);
}

// Four partial sums: one chain of dependent adds would wait on add latency.
SW_AVX2 static float sum_squares(const float *x, int n, float shift) {
    const __m256 c = _mm256_set1_ps(shift);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256 a = _mm256_sub_ps(_mm256_loadu_ps(x + i), c), b = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), c);
        const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i + 16), c), e = _mm256_sub_ps(_mm256_loadu_ps(x + i + 24), c);
        s0 = _mm256_fmadd_ps(a, a, s0);
        s1 = _mm256_fmadd_ps(b, b, s1);
        s2 = _mm256_fmadd_ps(d, d, s2);
        s3 = _mm256_fmadd_ps(e, e, s3);
    }
    for (; i < n; i += 8) {
        // Masked lanes load 0; subtracting the shift must not count them.
        const __m256 a = _mm256_and_ps(_mm256_sub_ps(load_n(x + i, n - i), c), _mm256_castsi256_ps(sw_mask256(n - i)));
        s0 = _mm256_fmadd_ps(a, a, s0);
    }
    return sw_hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

SW_AVX2 void sw_rmsnorm_avx2(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *o = out + (size_t)r * ldo;
        const __m256 scale = _mm256_set1_ps(1.0f / sqrtf(sum_squares(xr, n, 0.0f) / (float)n + eps));
        for (int i = 0; i < n; i += 8)
            store_n(o + i, _mm256_mul_ps(_mm256_mul_ps(load_n(xr + i, n - i), scale), load_n(w + i, n - i)), n - i);
    }
}

SW_AVX2 void sw_layernorm_avx2(const float *x, size_t ldx, const float *w, const float *b, float *out, size_t ldo, int rows, int n,
                               float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *o = out + (size_t)r * ldo;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(xr + i));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(xr + i + 8));
        }
        for (; i < n; i += 8) s0 = _mm256_add_ps(s0, load_n(xr + i, n - i));
        const float mean = sw_hsum256(_mm256_add_ps(s0, s1)) / (float)n;
        const float scale = 1.0f / sqrtf(sum_squares(xr, n, mean) / (float)n + eps);
        const __m256 vm = _mm256_set1_ps(mean), vs = _mm256_set1_ps(scale);
        for (i = 0; i < n; i += 8) {
            const __m256 y = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(load_n(xr + i, n - i), vm), vs), load_n(w + i, n - i));
            store_n(o + i, b ? _mm256_add_ps(y, load_n(b + i, n - i)) : y, n - i);
        }
    }
}

SW_AVX2 void sw_rope_apply_avx2(float *x, size_t ld, int rows, int n_heads, int head_dim, int rot_dim, const float *cs, int halves) {
    const int half = rot_dim / 2;
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    for (int r = 0; r < rows; r++) {
        const float *cosv = cs + (size_t)r * half * 2, *sinv = cosv + half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)r * ld + (size_t)h * head_dim;
            if (halves) {
                for (int i = 0; i < half; i += 8) {
                    const int n = half - i;
                    const __m256 a = load_n(v + i, n), b = load_n(v + i + half, n);
                    const __m256 c = load_n(cosv + i, n), s = load_n(sinv + i, n);
                    store_n(v + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)), n);
                    store_n(v + i + half, _mm256_fmadd_ps(b, c, _mm256_mul_ps(a, s)), n);
                }
            } else {
                // Four (even, odd) pairs per vector: even' = e c - o s, odd' = o c + e s, which is
                // fmaddsub of the pairs times c with the swapped pairs times s.
                int i = 0;
                for (; i + 4 <= half; i += 4) {
                    const __m256 xv = _mm256_loadu_ps(v + 2 * i);
                    const __m256 c = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(cosv + i)), dup);
                    const __m256 s = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(sinv + i)), dup);
                    const __m256 sw = _mm256_permute_ps(xv, 0xb1);
                    _mm256_storeu_ps(v + 2 * i, _mm256_fmaddsub_ps(xv, c, _mm256_mul_ps(sw, s)));
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

SW_AVX2 void sw_silu_mul_avx2(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n) {
    const __m256 one = _mm256_set1_ps(1.0f), lim = _mm256_set1_ps(80.0f);
    for (int r = 0; r < rows; r++) {
        const float *g = gu + (size_t)r * ldgu, *u = g + n;
        float *o = out + (size_t)r * ldo;
        for (int i = 0; i < n; i += 8) {
            const __m256 x = load_n(g + i, n - i);
            // silu(x) = x / (1 + e^-x); the clamp keeps e^-x finite for very negative x.
            const __m256 e = sw_exp256(_mm256_min_ps(_mm256_sub_ps(_mm256_setzero_ps(), x), lim));
            store_n(o + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), load_n(u + i, n - i)), n - i);
        }
    }
}

// 0.5 v (1 + tanh(k)) with k = sqrt(2/pi) (v + 0.044715 v^3) is v / (1 + e^(-2k)).
SW_AVX2 void sw_gelu_tanh_avx2(float *x, size_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), lim = _mm256_set1_ps(80.0f), c3 = _mm256_set1_ps(0.044715f);
    const __m256 m2k = _mm256_set1_ps(-2.0f * 0.7978845608028654f);
    for (size_t i = 0; i < n; i += 8) {
        const int m = n - i >= 8 ? 8 : (int)(n - i);
        const __m256 v = load_n(x + i, m);
        const __m256 inner = _mm256_mul_ps(v, _mm256_fmadd_ps(_mm256_mul_ps(c3, v), v, one));
        const __m256 e = sw_exp256(_mm256_min_ps(_mm256_mul_ps(m2k, inner), lim));
        store_n(x + i, _mm256_div_ps(v, _mm256_add_ps(one, e)), m);
    }
}

SW_AVX2 void sw_relu_avx2(float *x, size_t n) {
    // max returns its second operand for NaN and for two zeros, as x > 0 ? x : 0 does.
    for (size_t i = 0; i < n; i += 8) {
        const int m = n - i >= 8 ? 8 : (int)(n - i);
        store_n(x + i, _mm256_max_ps(load_n(x + i, m), _mm256_setzero_ps()), m);
    }
}

SW_AVX2 void sw_add_rows_avx2(float *y, size_t ldy, const float *x, size_t ldx, const float *bias, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * ldy;
        const float *xr = bias ? bias : x + (size_t)r * ldx;
        for (int i = 0; i < n; i += 8) store_n(yr + i, _mm256_add_ps(load_n(yr + i, n - i), load_n(xr + i, n - i)), n - i);
    }
}
#endif
