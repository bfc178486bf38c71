// Row-wise elementwise operations of transformer layers. They are memory-light next to the
// matmuls, so plain loops that the compiler vectorises are enough.
#include "sw_ops.h"
#include <math.h>
#include <string.h>
#include "sw_simd.h"

void sw_rmsnorm(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps) {
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

void sw_rope(float *x, size_t ld, int rows, int n_heads, int head_dim, int rot_dim,
             const int32_t *positions, const float *inv_freq, int halves) {
    float cs[512], sn[512];
    const int half = rot_dim / 2;
    for (int r = 0; r < rows; r++) {
        const float p = (float)positions[r];
        for (int i = 0; i < half && i < 512; i++) {
            float a = p * inv_freq[i];
            cs[i] = cosf(a);
            sn[i] = sinf(a);
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)r * ld + (size_t)h * head_dim;
            if (halves) {
                for (int i = 0; i < half; i++) {
                    float a = v[i], b = v[i + half];
                    v[i] = a * cs[i] - b * sn[i];
                    v[i + half] = b * cs[i] + a * sn[i];
                }
            } else {
                for (int i = 0; i < half; i++) {
                    float a = v[2 * i], b = v[2 * i + 1];
                    v[2 * i] = a * cs[i] - b * sn[i];
                    v[2 * i + 1] = b * cs[i] + a * sn[i];
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
            __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, e));
            _mm512_storeu_ps(o + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
        }
        for (; i < n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}
#endif

void sw_silu_mul(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n) {
#if defined(__x86_64__)
    static int has = -1;
    if (has < 0) has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    if (has) { silu_mul_avx512(gu, ldgu, out, ldo, rows, n); return; }
#endif
    for (int r = 0; r < rows; r++) {
        const float *g = gu + (size_t)r * ldgu, *u = g + n;
        float *o = out + (size_t)r * ldo;
        for (int i = 0; i < n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void sw_gelu_tanh(float *x, size_t n) {
    const float k = 0.7978845608028654f; // sqrt(2/pi)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void sw_relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

void sw_add_rows(float *y, size_t ldy, const float *x, size_t ldx, int rows, int n) {
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i++) y[(size_t)r * ldy + i] += x[(size_t)r * ldx + i];
}

void sw_add_bias(float *y, size_t ldy, const float *b, int rows, int n) {
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i++) y[(size_t)r * ldy + i] += b[i];
}

void sw_f32_to_bf16_row(const float *x, uint16_t *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7fffffff) > 0x7f800000) { y[i] = (uint16_t)((u >> 16) | 0x40); continue; }
        u += 0x7fff + ((u >> 16) & 1);
        y[i] = (uint16_t)(u >> 16);
    }
}

void sw_bf16_to_f32_row(const uint16_t *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&y[i], &u, 4);
    }
}
