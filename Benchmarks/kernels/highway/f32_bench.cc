// Hand-written (sw_gemm_f32.c's AVX2 tile, f32_tile_avx512.c) vs Highway fixed-order fp32 linear, single thread.
// Usage: f32_bench [samples] [min_seconds_per_sample]
// Prints, per shape and m, the median [min..max] thread CPU time of each variant over samples
// taken in alternating order, and checks that every variant's output is bit-identical to the
// scalar level of sw_gemm_f32.c.
#include <hwy/highway.h>
#include <hwy/targets.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "f32_linear_hwy.h"
#include "f32_tile_avx512.h"
#include "sw_cpu.h"
#include "sw_gemm_f32.h"

namespace {

struct Variant {
    std::string name;
    std::function<void(float *)> run;
};

float frand(unsigned &s) {
    s = s * 1664525u + 1013904223u;
    return (static_cast<int>(s >> 8) - (1 << 23)) / static_cast<float>(1 << 23);
}

}  // namespace

int main(int argc, char **argv) {
    const int samples = argc > 1 ? atoi(argv[1]) : 7;
    const double min_s = argc > 2 ? atof(argv[2]) : 0.05;
    const int shapes[][2] = {{1536, 576}, {576, 1536}};
    const int ms[] = {1, 8, 64, 512};
    int failures = 0;
    printf("variant: median [min..max] us per call (thread CPU time), GFLOP/s at the median\n");
    for (const auto &sh : shapes) {
        const int n = sh[0], k = sh[1];
        unsigned seed = 12345u;
        std::vector<float> w(static_cast<size_t>(n) * k);
        for (auto &v : w) v = frand(seed);
        sw_f32_linear *l = sw_f32_linear_create(w.data(), n, k);
        // The same packing, for the Highway side (the handle is opaque).
        const int tiles = (n + 31) / 32;
        float *packed = static_cast<float *>(aligned_alloc(64, sizeof(float) * tiles * k * 32));
        for (int t = 0; t < tiles; t++)
            for (int kk = 0; kk < k; kk++)
                for (int j = 0; j < 32; j++) {
                    const int row = t * 32 + j;
                    packed[(static_cast<size_t>(t) * k + kk) * 32 + j] = row < n ? w[static_cast<size_t>(row) * k + kk] : 0.0f;
                }
        for (int m : ms) {
            std::vector<float> x(static_cast<size_t>(m) * k);
            for (auto &v : x) v = frand(seed);
            std::vector<float> ref(static_cast<size_t>(m) * n), out(ref.size());
            sw_cpu_set_level(SW_ISA_SCALAR);
            sw_f32_linear_forward(nullptr, l, x.data(), k, m, ref.data(), n);
            auto hand = [&](int level) {
                return [&, level](float *y) {
                    sw_cpu_set_level(level);
                    sw_f32_linear_forward(nullptr, l, x.data(), k, m, y, n);
                };
            };
            auto hwy_at = [&](int64_t target, int mr) {
                return [&, target, mr](float *y) {
                    hwy::SetSupportedTargetsForTest(target);
                    swbench::F32LinearHwy(packed, n, k, x.data(), k, m, y, n, mr);
                };
            };
            std::vector<Variant> vs = {
                {"hand avx2", hand(SW_ISA_AVX2)},
                {"hwy AVX2 mr3", hwy_at(HWY_AVX2, 3)},
                // 2 x 4 ymm accumulators + 4 weights fit the 16 ymm registers; 3 x 4 + 4 + 1 do not.
                {"hwy AVX2 mr2", hwy_at(HWY_AVX2, 2)},
                {"hand avx512", [&](float *y) { f32_linear_avx512(packed, n, k, x.data(), k, m, y, n); }},
                {"hwy AVX3 mr3", hwy_at(HWY_AVX3, 3)},
                {"hwy AVX3 mr6", hwy_at(HWY_AVX3, 6)},
            };
            for (auto &v : vs) {
                memset(out.data(), 0xff, sizeof(float) * out.size());
                v.run(out.data());
                if (memcmp(out.data(), ref.data(), sizeof(float) * out.size()) != 0) {
                    printf("MISMATCH %s n=%d k=%d m=%d\n", v.name.c_str(), n, k, m);
                    failures++;
                }
            }
            std::vector<std::vector<double>> t(vs.size());
            for (int s = 0; s < samples; s++)
                for (size_t j = 0; j < vs.size(); j++) {
                    // Rotate the order so no variant always runs right after the same one.
                    const size_t vi = (j + s) % vs.size();
                    t[vi].push_back(bench_sample([&] { vs[vi].run(out.data()); }, min_s));
                }
            printf("N=%d K=%d m=%d\n", n, k, m);
            for (size_t j = 0; j < vs.size(); j++) {
                const BenchStats st = bench_stats(t[j]);
                printf("  %-14s %9.1f [%9.1f..%9.1f] us  %6.1f GFLOP/s\n", vs[j].name.c_str(), st.median * 1e6, st.lo * 1e6,
                       st.hi * 1e6, 2.0 * m * n * k / st.median * 1e-9);
            }
            fflush(stdout);
        }
        free(packed);
        sw_f32_linear_destroy(l);
    }
    hwy::SetSupportedTargetsForTest(HWY_AVX2);
    printf("dispatch check: HWY_AVX2 mask -> %s; ", swbench::HwyTarget());
    hwy::SetSupportedTargetsForTest(HWY_AVX3);
    printf("HWY_AVX3 mask -> %s\n", swbench::HwyTarget());
    printf(failures ? "FAILED: %d outputs differ from the scalar reference\n" : "all outputs bit-identical to the scalar reference\n", failures);
    return failures != 0;
}
