// aarch64 NEON row-wise ops (sw_ops_neon.c) behind sw_ops.c. Internal header, not part of the
// module's API.
#pragma once
#if defined(__aarch64__)
#include <stddef.h>
#include <stdint.h>
#include "sw_neon.h"

// sw_ops_neon.c
void swi_rmsnorm_neon(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps);
void swi_layernorm_neon(const float *x, size_t ldx, const float *w, const float *b, float *out, size_t ldo, int rows, int n, float eps);
void swi_rope_apply_neon(float *x, size_t ld, int rows, int n_heads, int head_dim, int rot_dim, const float *cs, int halves);
void swi_silu_mul_neon(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n);
void swi_gelu_tanh_neon(float *x, size_t n);
void swi_add_rows_neon(float *y, size_t ldy, const float *x, size_t ldx, int rows, int n);
void swi_add_bias_neon(float *y, size_t ldy, const float *b, int rows, int n);
#endif
