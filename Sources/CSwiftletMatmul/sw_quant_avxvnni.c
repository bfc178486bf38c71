// AVX-VNNI inside the AVX2 level: the packed-tile quantized kernel with 256-bit vpdpbusd
// (Intel Alder Lake and later client cores, Zen 5), chosen per call when sw_cpu_use_avx_vnni().
// One body (sw_quant_vnni256.h) is built twice: with the VEX encoding AVX-VNNI CPUs run, and
// with the EVEX encoding of AVX512-VNNI + VL, which only the test hook selects, so CPUs without
// AVX-VNNI (Zen 4, Ice Lake server) can still check the body against the other levels.
#include "sw_quant.h"
#include "sw_quant_impl.h"
#include "sw_quant_test_hooks.h"
#include "sw_cpu.h"

#include <stdlib.h>
#include <string.h>

// Chunks: swi_avx2_chunks, as swi_qtile_avx2 takes them, so that both AVX2 variants give the
// same bits; the test AVX2VNNITests compares them.
#define VN_KCB4 SWI_AVX2_KCB4
#define VN_PB4 1280  // widened Q4 block: [8 g][32 rows] nibble dwords | 32 float d | 32 float m

// The test hook's per-thread choice (see sw_quant_test_hooks.h).
static _Thread_local int tl_evex_twin = 0;

static int evex_twin_available(void) {
    return sw_cpu_has_avx512_vnni() && sw_cpu_has_avx512vl() && sw_cpu_has_avx2() && sw_cpu_has_fma() &&
           sw_cpu_has_f16c();
}

int sw_quant_test_avx2_vnni_evex_available(void) { return evex_twin_available(); }

int sw_quant_test_use_avx2_vnni_evex(int enabled) {
    if (enabled && !evex_twin_available()) return -1;
    const int prev = tl_evex_twin;
    tl_evex_twin = enabled != 0;
    return prev;
}

int swi_avx2_vnni_variant(void) {
    if (tl_evex_twin) return SWI_VNNI_EVEX;
    return sw_cpu_use_avx_vnni() ? SWI_VNNI_VEX : SWI_VNNI_NONE;
}

int sw_quant_test_avx2_vnni_variant(void) { return swi_avx2_vnni_variant(); }

#if defined(__x86_64__)
#include <immintrin.h>

static inline int32_t vn_load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

typedef void (*vn_kernel_fn)(const uint8_t *S, int kb0, int kcb, const uint8_t *x, const int32_t *xsum,
                             float *y, int nrows, int accumulate);

#define VN_TARGET "avx2,fma,f16c,avxvnni"
#define VN_DPBUSD(a, u, s) _mm256_dpbusd_avx_epi32(a, u, s)
#define VN_NAME(x) x##_vex
#include "sw_quant_vnni256.h"
#undef VN_TARGET
#undef VN_DPBUSD
#undef VN_NAME

// The twin is compiled for the VEX level's register budget (ymm0-15, no mask registers), with
// only vpdpbusd itself in its EVEX form, so that its code and its speed stand for the VEX
// variant's; with avx512vl in the target attribute the compiler would also use ymm16-31.
__attribute__((target("avx2"), always_inline)) static inline __m256i vn_dpbusd_evex(__m256i a, __m256i u, __m256i s) {
    // AT&T order: the unsigned source (u) is the middle operand. "x" keeps the operands in
    // ymm0-15; loads are not folded into the instruction as the VEX variant's are.
    __asm__("%{evex%} vpdpbusd %2, %1, %0" : "+x"(a) : "x"(u), "x"(s));
    return a;
}
#define VN_TARGET "avx2,fma,f16c"
#define VN_DPBUSD(a, u, s) vn_dpbusd_evex(a, u, s)
#define VN_NAME(x) x##_evex
#include "sw_quant_vnni256.h"
#undef VN_TARGET
#undef VN_DPBUSD
#undef VN_NAME

void swi_qtile_avxvnni(int variant, sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                       float *Y, size_t ldy, const uint8_t *pf) {
    if (variant == SWI_VNNI_EVEX) swi_qtile_evex(t, P, nrows, K, Xq, m, Y, ldy, pf);
    else swi_qtile_vex(t, P, nrows, K, Xq, m, Y, ldy, pf);
}

#else  // not x86: the variant is never asked for (the level is never AVX2), but the symbol must exist.

void swi_qtile_avxvnni(int variant, sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                       float *Y, size_t ldy, const uint8_t *pf) {
    (void)variant; (void)t; (void)P; (void)nrows; (void)K; (void)Xq; (void)m; (void)Y; (void)ldy; (void)pf;
    abort();
}

#endif
