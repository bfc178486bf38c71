#pragma once
#include <stddef.h>
#include <stdint.h>
#include "sw_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A linear layer y = x W^T run by oneDNN, with W reordered once into oneDNN's preferred layout.
/// W is split by output rows into one part per pool thread; each thread runs its part with
/// oneDNN single-threaded, so the engine keeps one threading runtime (its own pool) throughout.
typedef struct sw_dnnl_linear sw_dnnl_linear;

enum { SW_DNNL_F32 = 0, SW_DNNL_BF16 = 1 };

/// w: N rows of K values, f32 (dtype SW_DNNL_F32) or bf16 bits (SW_DNNL_BF16). Returns NULL on failure
/// and writes a message into err (size err_len).
sw_dnnl_linear *sw_dnnl_linear_create(const void *w, int n, int k, int dtype, int parts, char *err, size_t err_len);
void sw_dnnl_linear_destroy(sw_dnnl_linear *l);
/// Bytes held by the reordered weights.
size_t sw_dnnl_linear_weight_bytes(const sw_dnnl_linear *l);
/// y[i*ldy + j] = sum_k x[i*ldx + k] * w[j][k] for i < m. scratch must hold m*k bf16 values when
/// the layer is bf16 (the activations are rounded to bf16 once, shared by all parts).
/// Returns 0 on success.
int sw_dnnl_linear_forward(sw_pool *pool, sw_dnnl_linear *l, const float *x, size_t ldx, int m,
                           float *y, size_t ldy, uint16_t *scratch);
/// Makes oneDNN's own OpenMP runtime single-threaded; parallelism comes from sw_pool.
void sw_dnnl_init(void);

#ifdef __cplusplus
}
#endif
