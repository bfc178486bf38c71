#pragma once
#include <stddef.h>

namespace swbench {
/// y = x W^T over weights packed as sw_gemm_f32.c packs them ([tile][k][32]); mr = 2, 3 or 6
/// activation rows per register tile. Runs on the target Highway's dispatch currently picks.
void F32LinearHwy(const float *packed, int n, int k, const float *x, size_t ldx, int m, float *y, size_t ldy, int mr);
/// Name of the target the dispatch currently picks.
const char *HwyTarget();
}  // namespace swbench
