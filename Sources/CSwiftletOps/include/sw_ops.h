#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// out[r] = x[r] / rms(x[r]) * w, for rows of n floats.
void sw_rmsnorm(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps);
/// LayerNorm with optional bias (b may be NULL).
void sw_layernorm(const float *x, size_t ldx, const float *w, const float *b, float *out, size_t ldo, int rows, int n, float eps);
/// The rope angles of rows positions: cs[r] holds half cosines then half sines, computed once
/// per forward pass and shared by every layer's sw_rope_apply. inv_freq holds half frequencies.
void sw_rope_cos_sin(const int32_t *positions, int rows, const float *inv_freq, int half, float *cs);
/// Rotary embedding in place on rows of n_heads * head_dim floats (stride ld), rotating the first
/// rot_dim dims of each head by the angles from sw_rope_cos_sin (half = rot_dim / 2). halves = 0
/// rotates adjacent pairs (GGUF LLaMA layout), 1 rotates (i, i + rot_dim/2) pairs (Hugging Face layout).
void sw_rope_apply(float *x, size_t ld, int rows, int n_heads, int head_dim, int rot_dim,
                   const float *cs, int halves);
/// out[r][i] = silu(gu[r][i]) * gu[r][n + i]: gate and up projections stored side by side.
void sw_silu_mul(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n);
/// x[i] = gelu_tanh(x[i]) / relu in place.
void sw_gelu_tanh(float *x, size_t n);
void sw_relu(float *x, size_t n);
/// y[r] += x[r].
void sw_add_rows(float *y, size_t ldy, const float *x, size_t ldx, int rows, int n);
/// y[r] += b (bias broadcast over rows).
void sw_add_bias(float *y, size_t ldy, const float *b, int rows, int n);

#ifdef __cplusplus
}
#endif
