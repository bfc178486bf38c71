// aarch64 NEON kernels (sw_*_neon.c) behind the portable entry points. Internal header, not part
// of the module's API. The dispatchers call these only when their entry point read SW_ISA_NEON
// from sw_cpu_level(); `dotprod` is sw_cpu_use_neon_dotprod() (a process-wide switch).
#pragma once
#if defined(__aarch64__)
#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>
#include "sw_quant.h"

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

// sw_ops_neon.c
void swi_rmsnorm_neon(const float *x, size_t ldx, const float *w, float *out, size_t ldo, int rows, int n, float eps);
void swi_layernorm_neon(const float *x, size_t ldx, const float *w, const float *b, float *out, size_t ldo, int rows, int n, float eps);
void swi_rope_apply_neon(float *x, size_t ld, int rows, int n_heads, int head_dim, int rot_dim, const float *cs, int halves);
void swi_silu_mul_neon(const float *gu, size_t ldgu, float *out, size_t ldo, int rows, int n);
void swi_gelu_tanh_neon(float *x, size_t n);
void swi_add_rows_neon(float *y, size_t ldy, const float *x, size_t ldx, int rows, int n);
void swi_add_bias_neon(float *y, size_t ldy, const float *b, int rows, int n);

// sw_convert_neon.c
void swi_f32_to_bf16_neon(const float *x, uint16_t *y, size_t n);
void swi_bf16_to_f32_neon(const uint16_t *x, float *y, size_t n);
void swi_f16_to_f32_neon(const uint16_t *x, float *y, size_t n);
void swi_f32_to_f16_neon(const float *x, uint16_t *y, size_t n);
void swi_quantize_q8a_neon(const float *x, size_t ldx, int m, int k, void *out);

// sw_quant_neon.c
// Rows [n0, n1) of Y from unpacked GGUF rows W, like the scalar reference (same per-block
// float order, so results match it to rounding and do not depend on m).
void swi_qrows_neon(sw_qtype type, const uint8_t *W, int n0, int n1, int K, const uint8_t *Xq,
                    int m, float *Y, size_t ldy, int dotprod);
// One packed 32-row tile (P: its K/32 records; see sw_qpack.c), nrows of them real; Y points at
// the tile's first output column.
void swi_qtile_neon(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                    float *Y, size_t ldy, int dotprod);
// i8mm (sw_quant_neon_i8mm.c): swi_qtile_neon's results bit for bit; needs dotprod and i8mm.
// Pairs of activation rows; an odd last row (or m = 1) goes to the sdot kernel. The dispatch
// takes it from SWI_I8MM_MIN_M rows on: per block it rearranges the tile's weights once (about
// 190 vector loads, zips and stores for Q8_0) and then costs 128 instructions per pair against
// the sdot kernel's 256, so by count it wins from about 4 rows (not measured on hardware).
#define SWI_I8MM_MIN_M 4
void swi_qtile_neon_i8mm(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                         float *Y, size_t ldy);
// One bf16 tile (nrows rows of K) against the [16 even | 16 odd]-split activations Xs.
void swi_bf16_rows_neon(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                        float *Y, size_t ldy);

// sw_attention_neon.c (attn_ctx is declared in sw_attention_impl.h)
float swi_q8_round_neon(const float *x, int head_dim, int8_t *q8, float *rounded, int32_t *sum);
void swi_kv_write_bf16_neon(const float *k, size_t k_stride, const float *v, size_t v_stride,
                            const int32_t *slot_mapping, int num_tokens, uint16_t *k_cache,
                            uint16_t *v_cache, int num_kv_heads, int head_dim, int block_size);
#endif
