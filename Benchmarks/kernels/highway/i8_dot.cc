// int8 dot products of tiles of 32 weight rows with m int8 activation rows, int32 accumulation:
// the inner loop of the packed quantized matmul (sw_quant_avx512.c). Weights are unsigned
// (0..15, unpacked 4-bit values), activations signed, packed as [K/4][32 rows][4 k] bytes, so one
// dword of a row holds 4 consecutive k. Three ways (Highway at two targets):
//   hand VNNI   _mm512_dpbusd_epi32, 2 zmm per 32 rows, 6 activation rows per register tile
//   hand AVX2   _mm256_maddubs_epi16 + _mm256_madd_epi16, 4 ymm per 32 rows, 2 activation rows
//   hwy         the best Highway 1.0.3 can say: zero-extend weights to int16 (PromoteTo), then
//               ReorderWidenMulAccumulate (int16 x int16 -> int32 pairs), per Highway target
// x86-64 only. Usage: i8_dot [samples] [min_seconds_per_sample]. Checks every variant against a
// scalar loop.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "i8_dot.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace swbench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One int64 per 4 k of an activation row: the 4 values as int16, so a 64-bit broadcast repeats
// them against every row's 4 weights.
template <int R>
HWY_INLINE void Rows(const uint8_t *HWY_RESTRICT p, int k4, const uint64_t *HWY_RESTRICT xq, size_t ldq,
                     int32_t *HWY_RESTRICT y, size_t ldy) {
    const hn::ScalableTag<int32_t> d32;
    const hn::Repartition<int16_t, decltype(d32)> d16;
    const hn::Rebind<uint8_t, decltype(d16)> d8;  // half-width bytes, one per int16 lane
    const hn::Repartition<uint64_t, decltype(d32)> d64;
    using V32 = hn::Vec<decltype(d32)>;
    using V16 = hn::Vec<decltype(d16)>;
    constexpr int L16 = static_cast<int>(hn::MaxLanes(d16));
    constexpr int NV = 128 / L16;  // int16 vectors per 4 k of 32 rows
    V32 s0[R][NV], s1[R][NV];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < NV; j++) s0[i][j] = s1[i][j] = hn::Zero(d32);
    for (int q = 0; q < k4; q++) {
        const uint8_t *w = p + static_cast<size_t>(q) * 128;
        V16 wv[NV];
        for (int j = 0; j < NV; j++) wv[j] = hn::PromoteTo(d16, hn::LoadU(d8, w + j * L16));
        for (int i = 0; i < R; i++) {
            const V16 xv = hn::BitCast(d16, hn::Set(d64, xq[static_cast<size_t>(i) * ldq + q]));
            for (int j = 0; j < NV; j++) s0[i][j] = hn::ReorderWidenMulAccumulate(d32, wv[j], xv, s0[i][j], s1[i][j]);
        }
    }
    // Lane l of the rearranged sum is products 2l and 2l+1, i.e. half of a row's 4 k.
    HWY_ALIGN int32_t t[64];
    constexpr int L32 = static_cast<int>(hn::MaxLanes(d32));
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < NV; j++) hn::Store(hn::RearrangeToOddPlusEven(s0[i][j], s1[i][j]), d32, t + j * L32);
        for (int r = 0; r < 32; r++) y[static_cast<size_t>(i) * ldy + r] = t[2 * r] + t[2 * r + 1];
    }
}

void Dot(const uint8_t *packed, int n, int k, const int8_t *x, int m, int32_t *y) {
    constexpr int MR = HWY_MAX_BYTES >= 64 ? 6 : 1;  // accumulators must fit the register file
    const int k4 = k / 4;
    uint64_t *xq = static_cast<uint64_t *>(malloc(sizeof(uint64_t) * m * k4));
    for (int i = 0; i < m; i++)
        for (int q = 0; q < k4; q++) {
            uint64_t v = 0;
            for (int b = 0; b < 4; b++) v |= static_cast<uint64_t>(static_cast<uint16_t>(x[static_cast<size_t>(i) * k + 4 * q + b])) << (16 * b);
            xq[static_cast<size_t>(i) * k4 + q] = v;
        }
    for (int t = 0; t < n / 32; t++) {
        const uint8_t *p = packed + static_cast<size_t>(t) * k * 32;
        int i = 0;
        for (; i + MR <= m; i += MR) Rows<MR>(p, k4, xq + static_cast<size_t>(i) * k4, k4, y + static_cast<size_t>(i) * n + t * 32, n);
        for (; i < m; i++) Rows<1>(p, k4, xq + static_cast<size_t>(i) * k4, k4, y + static_cast<size_t>(i) * n + t * 32, n);
    }
    free(xq);
}

const char *Target() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace swbench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <hwy/targets.h>

#include <functional>
#include <string>
#include <vector>

#include "bench_timing.h"

namespace swbench {
HWY_EXPORT(Dot);
HWY_EXPORT(Target);
}  // namespace swbench

static inline int32_t load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
template <int R>
VNNI static inline __attribute__((always_inline)) void vnni_rows(const uint8_t *p, int k4, const int8_t *x, size_t ldx, int32_t *y, size_t ldy) {
    __m512i a[R][2];
    for (int i = 0; i < R; i++) a[i][0] = a[i][1] = _mm512_setzero_si512();
    for (int q = 0; q < k4; q++) {
        const __m512i w0 = _mm512_loadu_si512(p + (size_t)q * 128), w1 = _mm512_loadu_si512(p + (size_t)q * 128 + 64);
        for (int i = 0; i < R; i++) {
            const __m512i xv = _mm512_set1_epi32(load_i32(x + (size_t)i * ldx + 4 * q));
            a[i][0] = _mm512_dpbusd_epi32(a[i][0], w0, xv);
            a[i][1] = _mm512_dpbusd_epi32(a[i][1], w1, xv);
        }
    }
    for (int i = 0; i < R; i++) {
        _mm512_storeu_si512(y + (size_t)i * ldy, a[i][0]);
        _mm512_storeu_si512(y + (size_t)i * ldy + 16, a[i][1]);
    }
}

VNNI static void dot_vnni(const uint8_t *packed, int n, int k, const int8_t *x, int m, int32_t *y) {
    for (int t = 0; t < n / 32; t++) {
        const uint8_t *p = packed + (size_t)t * k * 32;
        int i = 0;
        for (; i + 6 <= m; i += 6) vnni_rows<6>(p, k / 4, x + (size_t)i * k, k, y + (size_t)i * n + t * 32, n);
        for (; i < m; i++) vnni_rows<1>(p, k / 4, x + (size_t)i * k, k, y + (size_t)i * n + t * 32, n);
    }
}

#define AVX2 __attribute__((target("avx2,fma")))
template <int R>
AVX2 static inline __attribute__((always_inline)) void avx2_rows(const uint8_t *p, int k4, const int8_t *x, size_t ldx, int32_t *y, size_t ldy) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a[R][4];
    for (int i = 0; i < R; i++) a[i][0] = a[i][1] = a[i][2] = a[i][3] = _mm256_setzero_si256();
    for (int q = 0; q < k4; q++) {
        __m256i w[4];
        for (int j = 0; j < 4; j++) w[j] = _mm256_loadu_si256((const __m256i *)(p + (size_t)q * 128 + 32 * j));
        for (int i = 0; i < R; i++) {
            const __m256i xv = _mm256_set1_epi32(load_i32(x + (size_t)i * ldx + 4 * q));
            // 15 * 127 * 2 fits int16, so maddubs does not saturate for 4-bit weights.
            for (int j = 0; j < 4; j++) a[i][j] = _mm256_add_epi32(a[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(w[j], xv), ones));
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < 4; j++) _mm256_storeu_si256((__m256i *)(y + (size_t)i * ldy + 8 * j), a[i][j]);
}

AVX2 static void dot_avx2(const uint8_t *packed, int n, int k, const int8_t *x, int m, int32_t *y) {
    for (int t = 0; t < n / 32; t++) {
        const uint8_t *p = packed + (size_t)t * k * 32;
        int i = 0;
        for (; i + 2 <= m; i += 2) avx2_rows<2>(p, k / 4, x + (size_t)i * k, k, y + (size_t)i * n + t * 32, n);
        for (; i < m; i++) avx2_rows<1>(p, k / 4, x + (size_t)i * k, k, y + (size_t)i * n + t * 32, n);
    }
}

int main(int argc, char **argv) {
    const int samples = argc > 1 ? atoi(argv[1]) : 7;
    const double min_s = argc > 2 ? atof(argv[2]) : 0.05;
    const int shapes[][2] = {{1536, 576}, {576, 1536}};
    const int ms[] = {1, 8, 64};
    int failures = 0;
    printf("variant: median [min..max] us per call (thread CPU time), GOP/s at the median\n");
    for (const auto &sh : shapes) {
        const int n = sh[0], k = sh[1];
        unsigned seed = 777u;
        auto rnd = [&] { seed = seed * 1664525u + 1013904223u; return seed >> 8; };
        std::vector<uint8_t> w(static_cast<size_t>(n) * k), packed(w.size());
        for (auto &v : w) v = rnd() & 15;
        for (int t = 0; t < n / 32; t++)
            for (int q = 0; q < k / 4; q++)
                for (int r = 0; r < 32; r++)
                    for (int b = 0; b < 4; b++)
                        packed[((static_cast<size_t>(t) * (k / 4) + q) * 32 + r) * 4 + b] = w[static_cast<size_t>(t * 32 + r) * k + 4 * q + b];
        for (int m : ms) {
            std::vector<int8_t> x(static_cast<size_t>(m) * k);
            for (auto &v : x) v = static_cast<int8_t>(rnd());
            std::vector<int32_t> ref(static_cast<size_t>(m) * n), out(ref.size());
            for (int i = 0; i < m; i++)
                for (int r = 0; r < n; r++) {
                    int32_t s = 0;
                    for (int kk = 0; kk < k; kk++) s += w[static_cast<size_t>(r) * k + kk] * x[static_cast<size_t>(i) * k + kk];
                    ref[static_cast<size_t>(i) * n + r] = s;
                }
            struct Variant {
                std::string name;
                std::function<void()> run;
            };
            auto hwy_at = [&](int64_t target) {
                return [&, target] {
                    hwy::SetSupportedTargetsForTest(target);
                    HWY_DYNAMIC_DISPATCH(swbench::Dot)(packed.data(), n, k, x.data(), m, out.data());
                };
            };
            std::vector<Variant> vs = {
                {"hand avx2", [&] { dot_avx2(packed.data(), n, k, x.data(), m, out.data()); }},
                {"hwy AVX2", hwy_at(HWY_AVX2)},
                {"hand vnni", [&] { dot_vnni(packed.data(), n, k, x.data(), m, out.data()); }},
                {"hwy AVX3", hwy_at(HWY_AVX3)},
            };
            for (auto &v : vs) {
                memset(out.data(), 0x55, sizeof(int32_t) * out.size());
                v.run();
                if (memcmp(out.data(), ref.data(), sizeof(int32_t) * out.size()) != 0) {
                    printf("MISMATCH %s n=%d k=%d m=%d\n", v.name.c_str(), n, k, m);
                    failures++;
                }
            }
            std::vector<std::vector<double>> t(vs.size());
            for (int s = 0; s < samples; s++)
                for (size_t j = 0; j < vs.size(); j++) {
                    const size_t vi = (j + s) % vs.size();
                    t[vi].push_back(bench_sample(vs[vi].run, min_s));
                }
            printf("N=%d K=%d m=%d\n", n, k, m);
            for (size_t j = 0; j < vs.size(); j++) {
                const BenchStats st = bench_stats(t[j]);
                printf("  %-10s %9.1f [%9.1f..%9.1f] us  %6.1f GOP/s\n", vs[j].name.c_str(), st.median * 1e6, st.lo * 1e6, st.hi * 1e6,
                       2.0 * m * n * k / st.median * 1e-9);
            }
            fflush(stdout);
        }
    }
    hwy::SetSupportedTargetsForTest(HWY_AVX2);
    printf("dispatch check: HWY_AVX2 mask -> %s; ", HWY_DYNAMIC_DISPATCH(swbench::Target)());
    hwy::SetSupportedTargetsForTest(HWY_AVX3);
    printf("HWY_AVX3 mask -> %s\n", HWY_DYNAMIC_DISPATCH(swbench::Target)());
    printf(failures ? "FAILED: %d outputs differ from the scalar loop\n" : "all outputs equal the scalar loop\n", failures);
    return failures != 0;
}
#endif  // HWY_ONCE
