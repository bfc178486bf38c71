// The per-level row operations sw_ops.c dispatches to. Internal header, not part of the module's API.
#pragma once
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
void sw_rmsnorm_avx2(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps);
void sw_layernorm_avx2(const float *x, size_t ldx, const float *w, const float *b, float *out, size_t ldo, int rows, int n, float eps);
void sw_rope_apply_avx2(float *x, size_t ld, int rows, int n_heads, int head_dim, int rot_dim, const float *cs, int halves);
void sw_silu_mul_avx2(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n);
void sw_gelu_tanh_avx2(float *x, size_t n);
void sw_relu_avx2(float *x, size_t n);
/// y[r] += x[r], or y[r] += bias for every row when bias is given.
void sw_add_rows_avx2(float *y, size_t ldy, const float *x, size_t ldx, const float *bias, int rows, int n);
#endif
