// The fixed-order fp32 linear kernel of Sources/CSwiftletMatmul/sw_gemm_f32.c written with
// Highway: same packed layout (tiles of 32 weight rows stored k-major), same register tile
// (MR activation rows x 32 columns of accumulators), one FMA chain over k per output. Built once
// per Highway target; F32LinearHwy picks the target through Highway's dynamic dispatch.
#include <stddef.h>
#include <string.h>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "f32_linear_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "f32_linear_hwy.h"

HWY_BEFORE_NAMESPACE();
namespace swbench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int kTile = 32;

template <int R>
HWY_INLINE void Rows(const float *HWY_RESTRICT p, int k, const float *HWY_RESTRICT x, size_t ldx,
                     float *HWY_RESTRICT y, size_t ldy, int cols) {
    const hn::ScalableTag<float> d;
    using V = hn::Vec<decltype(d)>;
    constexpr size_t L = hn::MaxLanes(d);
    constexpr int NV = kTile / static_cast<int>(L);  // vectors per 32 columns
    static_assert(NV * L == kTile, "tile must be a whole number of vectors");
    V a[R][NV];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < NV; j++) a[i][j] = hn::Zero(d);
    for (int kk = 0; kk < k; kk++) {
        const float *w = p + static_cast<size_t>(kk) * kTile;
        V wv[NV];
        for (int j = 0; j < NV; j++) wv[j] = hn::Load(d, w + j * L);
        for (int i = 0; i < R; i++) {
            const V xv = hn::Set(d, x[static_cast<size_t>(i) * ldx + kk]);
            for (int j = 0; j < NV; j++) a[i][j] = hn::MulAdd(wv[j], xv, a[i][j]);
        }
    }
    for (int i = 0; i < R; i++) {
        float *yi = y + static_cast<size_t>(i) * ldy;
        if (cols == kTile) {
            for (int j = 0; j < NV; j++) hn::StoreU(a[i][j], d, yi + j * L);
        } else {
            HWY_ALIGN float t[kTile];
            for (int j = 0; j < NV; j++) hn::Store(a[i][j], d, t + j * L);
            memcpy(yi, t, sizeof(float) * static_cast<size_t>(cols));
        }
    }
}

template <int MR>
HWY_NOINLINE void Tile(const float *p, int k, const float *x, size_t ldx, int m, float *y, size_t ldy, int cols) {
    int i = 0;
    for (; i + MR <= m; i += MR) Rows<MR>(p, k, x + static_cast<size_t>(i) * ldx, ldx, y + static_cast<size_t>(i) * ldy, ldy, cols);
    // Remainder rows as one group, as sw_gemm_f32.c does (the chain per output does not depend
    // on the grouping, only the speed does).
    const float *xr = x + static_cast<size_t>(i) * ldx;
    float *yr = y + static_cast<size_t>(i) * ldy;
    switch (m - i) {
        case 5: if constexpr (MR > 5) Rows<5>(p, k, xr, ldx, yr, ldy, cols); break;
        case 4: if constexpr (MR > 4) Rows<4>(p, k, xr, ldx, yr, ldy, cols); break;
        case 3: if constexpr (MR > 3) Rows<3>(p, k, xr, ldx, yr, ldy, cols); break;
        case 2: Rows<2>(p, k, xr, ldx, yr, ldy, cols); break;
        case 1: Rows<1>(p, k, xr, ldx, yr, ldy, cols); break;
        default: break;
    }
}

// Same traversal as fwd_task in sw_gemm_f32.c, single-threaded.
template <int MR>
void ForwardMR(const float *packed, int n, int k, const float *x, size_t ldx, int m, float *y, size_t ldy) {
    const int tiles = (n + kTile - 1) / kTile;
    int rows_per_pass = k > 0 ? (65536 / k) / MR * MR : m;
    if (rows_per_pass < MR) rows_per_pass = MR;
    for (int t = 0; t < tiles; t++) {
        const float *p = packed + static_cast<size_t>(t) * k * kTile;
        const int n0 = t * kTile, cols = n - n0 < kTile ? n - n0 : kTile;
        for (int i0 = 0; i0 < m; i0 += rows_per_pass) {
            const int rows = m - i0 < rows_per_pass ? m - i0 : rows_per_pass;
            Tile<MR>(p, k, x + static_cast<size_t>(i0) * ldx, ldx, rows, y + static_cast<size_t>(i0) * ldy + n0, ldy, cols);
        }
    }
}

void Forward(const float *packed, int n, int k, const float *x, size_t ldx, int m, float *y, size_t ldy, int mr) {
    if (mr == 6) ForwardMR<6>(packed, n, k, x, ldx, m, y, ldy);
    else if (mr == 2) ForwardMR<2>(packed, n, k, x, ldx, m, y, ldy);
    else ForwardMR<3>(packed, n, k, x, ldx, m, y, ldy);
}

const char *Target() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace swbench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace swbench {
HWY_EXPORT(Forward);
HWY_EXPORT(Target);

void F32LinearHwy(const float *packed, int n, int k, const float *x, size_t ldx, int m, float *y, size_t ldy, int mr) {
    HWY_DYNAMIC_DISPATCH(Forward)(packed, n, k, x, ldx, m, y, ldy, mr);
}

const char *HwyTarget() { return HWY_DYNAMIC_DISPATCH(Target)(); }
}  // namespace swbench
#endif
