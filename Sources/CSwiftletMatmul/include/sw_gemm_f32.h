#pragma once
#include <stddef.h>
#include <stdint.h>
#include "sw_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A linear layer y = x W^T over fp32 weights whose every output is one fused multiply-add chain
/// over k in order: y[i][n] = fma(w[n][K-1], x[i][K-1], ... fma(w[n][0], x[i][0], 0)).
/// That order does not depend on the batch, the row's place in it, the thread split or the
/// kernel level, so a row's result is bit-identical alone, in any batch and at every level (the
/// batch-invariance oneDNN's AVX2 kernels do not give). Weights are copied into tiles of
/// SW_F32_TILE rows stored k-major, so one vector load reads one k of a whole tile.
typedef struct sw_f32_linear sw_f32_linear;

enum { SW_F32_TILE = 32 };

/// Copies and packs N rows of K floats. Returns NULL when memory runs out.
sw_f32_linear *sw_f32_linear_create(const float *w, int n, int k);
void sw_f32_linear_destroy(sw_f32_linear *l);
/// Bytes held by the packed weights.
size_t sw_f32_linear_weight_bytes(const sw_f32_linear *l);
/// y[i*ldy + j] = sum_k x[i*ldx + k] * w[j][k] for i < m, j < n, in the order described above.
void sw_f32_linear_forward(sw_pool *pool, const sw_f32_linear *l, const float *x, size_t ldx, int m,
                           float *y, size_t ldy);

#ifdef __cplusplus
}
#endif
