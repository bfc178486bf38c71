// Shared aarch64 NEON helpers of the sw_*_neon.c kernels in every C target (the kernels'
// declarations are in each family's own header: sw_quant_neon.h, sw_ops_neon.h, sw_kv_layout.h).
// Internal header, not part of any module's API. The dispatchers call the kernels only when their
// entry point read SW_ISA_NEON from sw_cpu_level(); `dotprod` is sw_cpu_use_neon_dotprod() (a
// process-wide switch).
#pragma once
#if defined(__aarch64__)
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

#define SW_NEON_DOTPROD __attribute__((target("dotprod")))

// exp for a vector, rel. error ~2e-7 for x in [-87, 88] (clamped outside).
static inline float32x4_t sw_exp_neon(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.0f)), vdupq_n_f32(88.0f));
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504089f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187e-06f));
    float32x4_t p = vdupq_n_f32(1.0f / 5040);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    // 2^n by building the exponent field; n is in [-126, 127] after the clamp.
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}
#endif
