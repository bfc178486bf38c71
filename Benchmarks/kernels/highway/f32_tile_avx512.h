#pragma once
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
/// Single-threaded y = x W^T over sw_gemm_f32.c's packed layout, with an AVX-512 register tile.
void f32_linear_avx512(const float *packed, int n, int k, const float *x, size_t ldx, int m, float *y, size_t ldy);
#ifdef __cplusplus
}
#endif
