// Row-wise elementwise operations of transformer layers: the portable code, the AVX-512 versions
// and the dispatch; each entry reads the calling thread's level once. The AVX2 versions are in
// sw_ops_avx2.c, the NEON ones in sw_ops_neon.c.
#include "sw_ops.h"
#include <math.h>
#include <string.h>
#include "sw_cpu.h"
#include "sw_ops_impl.h"
#include "sw_simd.h"
#include "sw_ops_neon.h"

#if defined(__x86_64__)
static int is_avx2(int level) { return level == SW_ISA_AVX2; }

// Four partial sums of squares: one chain of dependent adds would make a 576-wide row wait on
// add latency (about 2,300 cycles) where the loads need a tenth of that.
SW_AVX512 static void rmsnorm_avx512(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *o = out + (size_t)r * ldo;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i + 64 <= n; i += 64) {
            const __m512 a = _mm512_loadu_ps(xr + i), b = _mm512_loadu_ps(xr + i + 16);
            const __m512 c = _mm512_loadu_ps(xr + i + 32), d = _mm512_loadu_ps(xr + i + 48);
            s0 = _mm512_fmadd_ps(a, a, s0);
            s1 = _mm512_fmadd_ps(b, b, s1);
            s2 = _mm512_fmadd_ps(c, c, s2);
            s3 = _mm512_fmadd_ps(d, d, s3);
        }
        for (; i < n; i += 16) {
            const __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
            const __m512 a = _mm512_maskz_loadu_ps(m, xr + i);
            s0 = _mm512_fmadd_ps(a, a, s0);
        }
        const float ss = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
        const __m512 scale = _mm512_set1_ps(1.0f / sqrtf(ss / (float)n + eps));
        for (i = 0; i < n; i += 16) {
            const __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
            const __m512 a = _mm512_maskz_loadu_ps(m, xr + i);
            _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_mul_ps(a, scale), _mm512_maskz_loadu_ps(m, w + i)));
        }
    }
}

SW_AVX512 static void add_rows_avx512(float *y, size_t ldy, const float *x, size_t ldx, int rows, int n) {
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * ldy;
        const float *xr = x + (size_t)r * ldx;
        for (int i = 0; i < n; i += 16) {
            const __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
            _mm512_mask_storeu_ps(yr + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, yr + i), _mm512_maskz_loadu_ps(m, xr + i)));
        }
    }
}
#endif

void sw_rmsnorm(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps) {
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_rmsnorm_neon(x, ldx, w, out, ldo, rows, n, eps); return; }
#endif
#if defined(__x86_64__)
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { rmsnorm_avx512(x, ldx, w, out, ldo, rows, n, eps); return; }
    if (is_avx2(level)) { sw_rmsnorm_avx2(x, ldx, w, out, ldo, rows, n, eps); return; }
#endif
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *o = out + (size_t)r * ldo;
        float ss = 0;
        for (int i = 0; i < n; i++) ss += xr[i] * xr[i];
        float scale = 1.0f / sqrtf(ss / (float)n + eps);
        for (int i = 0; i < n; i++) o[i] = xr[i] * scale * w[i];
    }
}

void sw_layernorm(const float *x, size_t ldx, const float *w, const float *b, float *out, size_t ldo, int rows, int n, float eps) {
#if defined(__x86_64__)
    // AVX-512 machines take the AVX2 code: a norm per layer is too little work to matter.
    if (sw_cpu_level() != SW_ISA_SCALAR) { sw_layernorm_avx2(x, ldx, w, b, out, ldo, rows, n, eps); return; }
#endif
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_layernorm_neon(x, ldx, w, b, out, ldo, rows, n, eps); return; }
#endif
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        float *o = out + (size_t)r * ldo;
        float mean = 0;
        for (int i = 0; i < n; i++) mean += xr[i];
        mean /= (float)n;
        float var = 0;
        for (int i = 0; i < n; i++) { float d = xr[i] - mean; var += d * d; }
        float scale = 1.0f / sqrtf(var / (float)n + eps);
        for (int i = 0; i < n; i++) o[i] = (xr[i] - mean) * scale * w[i] + (b ? b[i] : 0.0f);
    }
}

// Kept scalar at every level: cosf/sinf of rows * half angles once per forward pass, shared by all
// layers, and exact libm values keep positions far into the context accurate.
void sw_rope_cos_sin(const int32_t *positions, int rows, const float *inv_freq, int half, float *cs) {
    for (int r = 0; r < rows; r++) {
        const float p = (float)positions[r];
        float *c = cs + (size_t)r * half * 2;
        for (int i = 0; i < half; i++) {
            const float a = p * inv_freq[i];
            c[i] = cosf(a);
            c[half + i] = sinf(a);
        }
    }
}

void sw_rope_apply(float *x, size_t ld, int rows, int n_heads, int head_dim, int rot_dim,
                   const float *cs, int halves) {
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_rope_apply_neon(x, ld, rows, n_heads, head_dim, rot_dim, cs, halves); return; }
#endif
#if defined(__x86_64__)
    if (sw_cpu_level() != SW_ISA_SCALAR) { sw_rope_apply_avx2(x, ld, rows, n_heads, head_dim, rot_dim, cs, halves); return; }
#endif
    const int half = rot_dim / 2;
    for (int r = 0; r < rows; r++) {
        const float *cosv = cs + (size_t)r * half * 2, *sinv = cosv + half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)r * ld + (size_t)h * head_dim;
            if (halves) {
                for (int i = 0; i < half; i++) {
                    float a = v[i], b = v[i + half];
                    v[i] = a * cosv[i] - b * sinv[i];
                    v[i + half] = b * cosv[i] + a * sinv[i];
                }
            } else {
                for (int i = 0; i < half; i++) {
                    float a = v[2 * i], b = v[2 * i + 1];
                    v[2 * i] = a * cosv[i] - b * sinv[i];
                    v[2 * i + 1] = b * cosv[i] + a * sinv[i];
                }
            }
        }
    }
}

#if defined(__x86_64__)
SW_AVX512 static void silu_mul_avx512(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int r = 0; r < rows; r++) {
        const float *g = gu + (size_t)r * ldgu, *u = g + n;
        float *o = out + (size_t)r * ldo;
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            __m512 x = _mm512_loadu_ps(g + i);
            // silu(x) = x / (1 + e^-x); clamp keeps e^-x finite for very negative x.
            __m512 e = sw_exp512(_mm512_min_ps(_mm512_sub_ps(_mm512_setzero_ps(), x), _mm512_set1_ps(80.0f)));
            // x / d through the reciprocal estimate and one Newton step (about 1 ulp): a 512-bit
            // divide blocks its port for many cycles per vector.
            const __m512 d = _mm512_add_ps(one, e);
            __m512 r = _mm512_rcp14_ps(d);
            r = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
            __m512 s = _mm512_mul_ps(x, r);
            _mm512_storeu_ps(o + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
        }
        for (; i < n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}
#endif

void sw_silu_mul(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n) {
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_silu_mul_neon(gu, ldgu, out, ldo, rows, n); return; }
#endif
#if defined(__x86_64__)
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { silu_mul_avx512(gu, ldgu, out, ldo, rows, n); return; }
    if (is_avx2(level)) { sw_silu_mul_avx2(gu, ldgu, out, ldo, rows, n); return; }
#endif
    for (int r = 0; r < rows; r++) {
        const float *g = gu + (size_t)r * ldgu, *u = g + n;
        float *o = out + (size_t)r * ldo;
        for (int i = 0; i < n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void sw_gelu_tanh(float *x, size_t n) {
#if defined(__x86_64__)
    if (sw_cpu_level() != SW_ISA_SCALAR) { sw_gelu_tanh_avx2(x, n); return; }
#endif
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_gelu_tanh_neon(x, n); return; }
#endif
    const float k = 0.7978845608028654f; // sqrt(2/pi)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void sw_relu(float *x, size_t n) {
#if defined(__x86_64__)
    if (sw_cpu_level() != SW_ISA_SCALAR) { sw_relu_avx2(x, n); return; }
#endif
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

void sw_add_rows(float *y, size_t ldy, const float *x, size_t ldx, int rows, int n) {
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_add_rows_neon(y, ldy, x, ldx, rows, n); return; }
#endif
#if defined(__x86_64__)
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { add_rows_avx512(y, ldy, x, ldx, rows, n); return; }
    if (is_avx2(level)) { sw_add_rows_avx2(y, ldy, x, ldx, NULL, rows, n); return; }
#endif
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i++) y[(size_t)r * ldy + i] += x[(size_t)r * ldx + i];
}

void sw_add_bias(float *y, size_t ldy, const float *b, int rows, int n) {
#if defined(__x86_64__)
    if (sw_cpu_level() != SW_ISA_SCALAR) { sw_add_rows_avx2(y, ldy, NULL, 0, b, rows, n); return; }
#endif
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_add_bias_neon(y, ldy, b, rows, n); return; }
#endif
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i++) y[(size_t)r * ldy + i] += b[i];
}
