// Half and bfloat16 conversions: the scalar definitions every level must match bit for bit, and
// the row converters' dispatch to the caller's level.
#include "sw_quant.h"
#include "sw_cpu.h"
#include "sw_quant_impl.h"
#include "sw_quant_neon.h"

#include <math.h>
#include <string.h>

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float sw_f16_to_f32_1(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) {
        // Subnormal (or zero): man * 2^-24 is exact in float.
        float f = (float)man * 0x1p-24f;
        return bits_f32(f32_bits(f) | sign);
    }
    // NaNs come out quiet, as the F16C instruction the SIMD paths use makes them.
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t sw_f32_to_f16_1(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {
        if (ax == 0x7f800000u) return sign | 0x7c00;
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));  // quiet NaN, keep payload
    }
    if (ax >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity
    if (ax < 0x38800000u) {
        // Below the smallest normal half: scaling by 2^24 is exact, so rintf rounds correctly
        // (a result of 0x400 is the smallest normal, which is the right encoding too).
        return (uint16_t)(sign | (uint16_t)lrintf(bits_f32(ax) * 0x1p24f));
    }
    ax += 0xfffu + ((ax >> 13) & 1u);
    return (uint16_t)(sign | ((ax - 0x38000000u) >> 13));
}


static inline uint16_t f32_to_bf16_1(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void sw_f32_to_bf16(const float *x, uint16_t *y, size_t n) {
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_f32_to_bf16_avx512(x, y, n); return; }
    if (level == SW_ISA_AVX2) { swi_f32_to_bf16_avx2(x, y, n); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_f32_to_bf16_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = f32_to_bf16_1(x[i]);
}

void sw_bf16_to_f32(const uint16_t *x, float *y, size_t n) {
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_bf16_to_f32_avx512(x, y, n); return; }
    if (level == SW_ISA_AVX2) { swi_bf16_to_f32_avx2(x, y, n); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_bf16_to_f32_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = swi_bf16_to_f32_1(x[i]);
}

void sw_f16_to_f32(const uint16_t *x, float *y, size_t n) {
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_f16_to_f32_avx512(x, y, n); return; }
    if (level == SW_ISA_AVX2) { swi_f16_to_f32_avx2(x, y, n); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_f16_to_f32_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = sw_f16_to_f32_1(x[i]);
}

void sw_f32_to_f16(const float *x, uint16_t *y, size_t n) {
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_f32_to_f16_avx512(x, y, n); return; }
    if (level == SW_ISA_AVX2) { swi_f32_to_f16_avx2(x, y, n); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_f32_to_f16_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) y[i] = sw_f32_to_f16_1(x[i]);
}

void sw_f32_to_bf16_row(const float *x, uint16_t *y, size_t n) {
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_f32_to_bf16_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if ((u & 0x7fffffff) > 0x7f800000) { y[i] = (uint16_t)((u >> 16) | 0x40); continue; }
        u += 0x7fff + ((u >> 16) & 1);
        y[i] = (uint16_t)(u >> 16);
    }
}

void sw_bf16_to_f32_row(const uint16_t *x, float *y, size_t n) {
#if defined(__aarch64__)
    if (sw_cpu_level() == SW_ISA_NEON) { swi_bf16_to_f32_neon(x, y, n); return; }
#endif
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&y[i], &u, 4);
    }
}
