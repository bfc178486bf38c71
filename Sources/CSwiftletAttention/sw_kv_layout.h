// Layout of one kv head's share of a paged KV block, shared by the cache writer (sw_kv_cache.c)
// and the attention kernels (sw_attention.c). Internal header, not part of the module's API.
#pragma once
#include <stdint.h>
#include <math.h>
#include <string.h>
#include "sw_attention.h"
#include "sw_cpu.h"
#include "sw_simd.h"
#include "sw_neon.h"

#if defined(__aarch64__)
#include <stddef.h>
// sw_attention_neon.c (attn_ctx is declared in sw_attention_impl.h)
float swi_q8_round_neon(const float *x, int head_dim, int8_t *q8, float *rounded, int32_t *sum);
void swi_kv_write_bf16_neon(const float *k, size_t k_stride, const float *v, size_t v_stride,
                            const int32_t *slot_mapping, int num_tokens, uint16_t *k_cache,
                            uint16_t *v_cache, int num_kv_heads, int head_dim, int block_size);
#endif

static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40); // keep NaN a NaN
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Where element (d, o) of a key and (o, d) of a value sit inside one head's block. fp32 blocks
// are plain [head_dim][block_size] (K) and [block_size][head_dim] (V). bf16 blocks are arranged
// so that one 64-byte load converts to fp32 with a single shift or mask per 16 values: K keeps
// dims 2p and 2p+1 of a key side by side ([head_dim/2][block_size][2]), and each 32-dim group of
// a V row interleaves dims i and 16+i.
//
// int8 keys keep 4 neighbouring dims of a key in one dword ([head_dim/4][block_size][4]), the
// operand shape of vpdpbusd, and are stored offset by 128 (as unsigned bytes), because vpdpbusd
// multiplies unsigned bytes by signed ones.
static inline size_t k_index(int dtype, int d, int o, int head_dim, int block_size) {
    if (dtype == SW_KV_BF16 && (head_dim & 1) == 0)
        return (size_t)(d >> 1) * block_size * 2 + (size_t)o * 2 + (size_t)(d & 1);
    if (dtype == SW_KV_I8 && (head_dim & 3) == 0)
        return (size_t)(d >> 2) * block_size * 4 + (size_t)o * 4 + (size_t)(d & 3);
    return (size_t)d * block_size + o;
}

static inline size_t v_index(int dtype, int o, int d, int head_dim) {
    const size_t row = (size_t)o * head_dim;
    if (dtype != SW_KV_BF16 || d >= (head_dim & ~31)) return row + d;
    const int w = d & 31;
    return row + (size_t)(d & ~31) + (size_t)(w < 16 ? 2 * w : 2 * (w - 16) + 1);
}

// int8 heads: values, then one float scale per token (value = int8 * scale).
static inline float i8_scale(const char *head, int o, int head_dim, int block_size) {
    float sc;
    memcpy(&sc, head + (size_t)head_dim * block_size + (size_t)o * sizeof(float), sizeof(float));
    return sc;
}

// Element d of key o / value o of the head starting at byte `head`.
static inline float k_value(int dtype, const char *head, int d, int o, int head_dim, int block_size) {
    const size_t i = k_index(dtype, d, o, head_dim, block_size);
    if (dtype == SW_KV_BF16) return bf16_to_f32(((const uint16_t *)head)[i]);
    if (dtype == SW_KV_I8) return (float)((int)((const uint8_t *)head)[i] - 128) * i8_scale(head, o, head_dim, block_size);
    return ((const float *)head)[i];
}

static inline float v_value(int dtype, const char *head, int o, int d, int head_dim, int block_size) {
    const size_t i = v_index(dtype, o, d, head_dim);
    if (dtype == SW_KV_BF16) return bf16_to_f32(((const uint16_t *)head)[i]);
    if (dtype == SW_KV_I8) return (float)((const int8_t *)head)[i] * i8_scale(head, o, head_dim, block_size);
    return ((const float *)head)[i];
}

// Symmetric int8 with one scale (max |x| / 127, round to nearest even): how the cache stores each
// token's key and value of a head, and how attention rounds each query head for an int8 cache, so
// that its dot products with the keys are exact integer sums (VNNI). Writes the int8 values, and
// when given, the rounded values as floats and the sum of the int8 values; returns the scale.
static inline float q8_round(const float *x, int head_dim, int8_t *q8, float *rounded, int32_t *sum) {
    float amax = 0;
    for (int d = 0; d < head_dim; d++) amax = fabsf(x[d]) > amax ? fabsf(x[d]) : amax;
    const float sc = amax / 127.0f, inv = sc > 0 ? 1.0f / sc : 0.0f;
    int32_t total = 0;
    for (int d = 0; d < head_dim; d++) {
        float v = rintf(x[d] * inv);
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        q8[d] = (int8_t)v;
        total += (int32_t)v;
        if (rounded) rounded[d] = v * sc;
    }
    if (sum) *sum = total;
    return sc;
}

#if defined(__x86_64__)
// q8_round for head_dim a multiple of 16, bit-identical (the conversion rounds to nearest even,
// and |x * inv| <= 127 needs no clamping).
SW_AVX512 static inline float q8_round_avx512(const float *x, int head_dim, int8_t *q8, float *rounded, int32_t *sum) {
    __m512 m = _mm512_setzero_ps();
    for (int d = 0; d < head_dim; d += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + d)));
    const float sc = _mm512_reduce_max_ps(m) / 127.0f;
    const __m512 inv = _mm512_set1_ps(sc > 0 ? 1.0f / sc : 0.0f), vsc = _mm512_set1_ps(sc);
    __m512i total = _mm512_setzero_si512();
    for (int d = 0; d < head_dim; d += 16) {
        const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + d), inv));
        _mm_storeu_si128((__m128i *)(q8 + d), _mm512_cvtsepi32_epi8(v));
        if (rounded) _mm512_storeu_ps(rounded + d, _mm512_mul_ps(_mm512_cvtepi32_ps(v), vsc));
        total = _mm512_add_epi32(total, v);
    }
    if (sum) *sum = _mm512_reduce_add_epi32(total);
    return sc;
}

// q8_round for head_dim a multiple of 8, bit-identical likewise.
SW_AVX2 static inline float q8_round_avx2(const float *x, int head_dim, int8_t *q8, float *rounded, int32_t *sum) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (int d = 0; d < head_dim; d += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + d), absmask));
    const float sc = sw_hmax256(m) / 127.0f;
    const __m256 inv = _mm256_set1_ps(sc > 0 ? 1.0f / sc : 0.0f), vsc = _mm256_set1_ps(sc);
    __m256i total = _mm256_setzero_si256();
    for (int d = 0; d < head_dim; d += 8) {
        const __m256i v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + d), inv));
        const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64((__m128i *)(q8 + d), _mm_packs_epi16(w, w));
        if (rounded) _mm256_storeu_ps(rounded + d, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vsc));
        total = _mm256_add_epi32(total, v);
    }
    if (sum) {
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
        *sum = _mm_cvtsi128_si32(t);
    }
    return sc;
}
#endif

// The fastest of the three that the kernel level (sw_cpu_level() of the calling entry point) allows.
static inline float q8_round_any(int level, const float *x, int head_dim, int8_t *q8, float *rounded, int32_t *sum) {
#if defined(__x86_64__)
    if (head_dim % 16 == 0 && level == SW_ISA_AVX512) return q8_round_avx512(x, head_dim, q8, rounded, sum);
    if (head_dim % 8 == 0 && (level == SW_ISA_AVX512 || level == SW_ISA_AVX2)) return q8_round_avx2(x, head_dim, q8, rounded, sum);
#elif defined(__aarch64__)
    if (head_dim % 8 == 0 && level == SW_ISA_NEON) return swi_q8_round_neon(x, head_dim, q8, rounded, sum);
#endif
    (void)level;
    return q8_round(x, head_dim, q8, rounded, sum);
}
