// Paged KV cache storage: block sizes per element type, the cache writer, block copy.
#include "sw_attention.h"
#include "sw_cpu.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sw_kv_layout.h"
#include "sw_simd.h"

#if defined(__x86_64__)
// 32 floats -> 32 bf16 words (round to nearest even, NaN kept a NaN, as f32_to_bf16), in the
// order given by idx: word j of the result is the rounded float idx[j].
SW_AVX512 static inline __m512i bf16_words(const float *x, __m512i idx) {
    const __m512i lo = _mm512_castps_si512(_mm512_loadu_ps(x)), hi = _mm512_castps_si512(_mm512_loadu_ps(x + 16));
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff), abs = _mm512_set1_epi32(0x7fffffff);
    const __m512i inf = _mm512_set1_epi32(0x7f800000), quiet = _mm512_set1_epi32(0x400000);
    __m512i r[2];
    const __m512i src[2] = {lo, hi};
    for (int j = 0; j < 2; j++) {
        const __m512i u = src[j];
        const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs), inf);
        const __m512i rounded = _mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(u, 16), one)));
        r[j] = _mm512_mask_blend_epi32(nan, rounded, _mm512_or_si512(u, quiet));
    }
    // The bf16 is the high word of each rounded dword: words 2j+1 of r[0] and r[1].
    return _mm512_permutex2var_epi16(r[0], idx, r[1]);
}

// bf16 cache, head_dim a multiple of 32: each key's dims become pairs stored a dword at a time,
// each 32-dim group of a value one 64-byte store (layouts of k_index and v_index).
SW_AVX512 static void kv_write_bf16_avx512(const float *k, size_t k_stride, const float *v, size_t v_stride,
                                           const int32_t *slot_mapping, int num_tokens, uint16_t *k_cache,
                                           uint16_t *v_cache, int num_kv_heads, int head_dim, int block_size) {
    _Alignas(64) uint16_t natural_idx[32], swizzle_idx[32];
    for (int j = 0; j < 32; j++) {
        natural_idx[j] = (uint16_t)(2 * j + 1);                                  // d0, d1, ..., d31
        swizzle_idx[j] = (uint16_t)(j & 1 ? 2 * (16 + j / 2) + 1 : 2 * (j / 2) + 1); // d0, d16, d1, d17, ...
    }
    const __m512i nat = _mm512_load_si512(natural_idx), swz = _mm512_load_si512(swizzle_idx);
    for (int i = 0; i < num_tokens; i++) {
        const int32_t slot = slot_mapping[i];
        if (slot < 0) continue;
        const size_t block = (size_t)(slot / block_size);
        const int off = slot % block_size;
        const float *ki = k + (size_t)i * k_stride, *vi = v + (size_t)i * v_stride;
        for (int h = 0; h < num_kv_heads; h++) {
            const size_t base = (block * num_kv_heads + h) * (size_t)head_dim * block_size;
            uint32_t *kc = (uint32_t *)(k_cache + base) + off;
            uint16_t *vc = v_cache + base + (size_t)off * head_dim;
            for (int g = 0; g < head_dim; g += 32) {
                _Alignas(64) uint32_t pairs[16];
                _mm512_store_si512(pairs, bf16_words(ki + h * head_dim + g, nat));
                for (int p = 0; p < 16; p++) kc[(size_t)(g / 2 + p) * block_size] = pairs[p];
                _mm512_storeu_si512(vc + g, bf16_words(vi + h * head_dim + g, swz));
            }
        }
    }
}

// 16 floats -> 16 bf16 words in order (rounding as f32_to_bf16).
SW_AVX2 static inline __m256i bf16_words_avx2(const float *x) {
    const __m256i abs = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    __m256i r[2];
    for (int j = 0; j < 2; j++) {
        const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + 8 * j));
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs), inf);
        const __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff),
                                                                      _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
        r[j] = _mm256_srli_epi32(_mm256_blendv_epi8(rounded, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)), nan), 16);
    }
    // packus works within 128-bit lanes: words come out as 0-3 8-11 4-7 12-15 in qwords.
    return _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8);
}

// The bf16 writer for head_dim a multiple of 32 (layouts of k_index and v_index).
SW_AVX2 static void kv_write_bf16_avx2(const float *k, size_t k_stride, const float *v, size_t v_stride,
                                       const int32_t *slot_mapping, int num_tokens, uint16_t *k_cache,
                                       uint16_t *v_cache, int num_kv_heads, int head_dim, int block_size) {
    for (int i = 0; i < num_tokens; i++) {
        const int32_t slot = slot_mapping[i];
        if (slot < 0) continue;
        const size_t block = (size_t)(slot / block_size);
        const int off = slot % block_size;
        const float *ki = k + (size_t)i * k_stride, *vi = v + (size_t)i * v_stride;
        for (int h = 0; h < num_kv_heads; h++) {
            const size_t base = (block * num_kv_heads + h) * (size_t)head_dim * block_size;
            uint32_t *kc = (uint32_t *)(k_cache + base) + off;
            uint16_t *vc = v_cache + base + (size_t)off * head_dim;
            for (int g = 0; g < head_dim; g += 32) {
                // Keys: words in dim order are the dims 2p, 2p+1 pairs, a dword each.
                _Alignas(32) uint32_t pairs[16];
                _mm256_store_si256((__m256i *)pairs, bf16_words_avx2(ki + h * head_dim + g));
                _mm256_store_si256((__m256i *)pairs + 1, bf16_words_avx2(ki + h * head_dim + g + 16));
                for (int p = 0; p < 16; p++) kc[(size_t)(g / 2 + p) * block_size] = pairs[p];
                // Values: dword w holds dims w and 16 + w.
                const __m256i a = bf16_words_avx2(vi + h * head_dim + g), bw = bf16_words_avx2(vi + h * head_dim + g + 16);
                const __m256i w0 = _mm256_unpacklo_epi16(a, bw), w1 = _mm256_unpackhi_epi16(a, bw);
                // unpack works within 128-bit lanes: w0 = dims 0-3|8-11, w1 = 4-7|12-15 (each with +16).
                _mm256_storeu_si256((__m256i *)(vc + g), _mm256_permute2x128_si256(w0, w1, 0x20));
                _mm256_storeu_si256((__m256i *)(vc + g + 16), _mm256_permute2x128_si256(w0, w1, 0x31));
            }
        }
    }
}
#endif

size_t sw_kv_head_block_bytes(int dtype, int head_dim, int block_size) {
    const size_t elems = (size_t)head_dim * block_size;
    switch (dtype) {
        case SW_KV_BF16: return 2 * elems;
        case SW_KV_I8: return elems + sizeof(float) * (size_t)block_size;
        default: return 4 * elems;
    }
}

// One token's key or value of one head into slot o of its int8 head block (see k_index/v_index).
static void write_i8(int level, const float *x, int head_dim, int block_size, int o, int is_key, char *head) {
    int8_t stack_q[256];
    int8_t *q = head_dim <= 256 ? stack_q : malloc((size_t)head_dim);
    if (!q) abort();
    const float sc = q8_round_any(level, x, head_dim, q, NULL, NULL);
    if (!is_key) {
        memcpy(head + (size_t)o * head_dim, q, (size_t)head_dim);
    } else if (head_dim % 4 == 0) {
        // A dword per 4 dims; adding 0x80 to each byte is the offset of 128.
        for (int g = 0; g < head_dim / 4; g++) {
            uint32_t w;
            memcpy(&w, q + 4 * g, 4);
            w ^= 0x80808080u;
            memcpy(head + ((size_t)g * block_size + o) * 4, &w, 4);
        }
    } else {
        uint8_t *k = (uint8_t *)head;
        for (int d = 0; d < head_dim; d++) k[k_index(SW_KV_I8, d, o, head_dim, block_size)] = (uint8_t)(q[d] + 128);
    }
    memcpy(head + (size_t)head_dim * block_size + (size_t)o * sizeof(float), &sc, sizeof(float));
    if (q != stack_q) free(q);
}

void sw_kv_write(const float *k, size_t k_stride, const float *v, size_t v_stride,
                 const int32_t *slot_mapping, int num_tokens,
                 void *k_cache, void *v_cache, int dtype,
                 int num_kv_heads, int head_dim, int block_size) {
    const int level = sw_cpu_level();
    if (dtype == SW_KV_I8) {
        const size_t hb = sw_kv_head_block_bytes(dtype, head_dim, block_size);
        for (int i = 0; i < num_tokens; i++) {
            const int32_t slot = slot_mapping[i];
            if (slot < 0) continue;
            const size_t block = (size_t)(slot / block_size);
            const int off = slot % block_size;
            for (int h = 0; h < num_kv_heads; h++) {
                char *kh = (char *)k_cache + (block * num_kv_heads + h) * hb, *vh = (char *)v_cache + (block * num_kv_heads + h) * hb;
                write_i8(level, k + (size_t)i * k_stride + (size_t)h * head_dim, head_dim, block_size, off, 1, kh);
                write_i8(level, v + (size_t)i * v_stride + (size_t)h * head_dim, head_dim, block_size, off, 0, vh);
            }
        }
        return;
    }
#if defined(__x86_64__)
    if (dtype == SW_KV_BF16 && head_dim % 32 == 0 && level == SW_ISA_AVX512) {
        kv_write_bf16_avx512(k, k_stride, v, v_stride, slot_mapping, num_tokens, k_cache, v_cache,
                             num_kv_heads, head_dim, block_size);
        return;
    }
    if (dtype == SW_KV_BF16 && head_dim % 32 == 0 && level == SW_ISA_AVX2) {
        kv_write_bf16_avx2(k, k_stride, v, v_stride, slot_mapping, num_tokens, k_cache, v_cache,
                           num_kv_heads, head_dim, block_size);
        return;
    }
#endif
#if defined(__aarch64__)
    if (dtype == SW_KV_BF16 && head_dim % 32 == 0 && level == SW_ISA_NEON) {
        swi_kv_write_bf16_neon(k, k_stride, v, v_stride, slot_mapping, num_tokens, k_cache, v_cache,
                               num_kv_heads, head_dim, block_size);
        return;
    }
#endif
    for (int i = 0; i < num_tokens; i++) {
        int32_t slot = slot_mapping[i];
        if (slot < 0) continue;
        size_t block = (size_t)(slot / block_size);
        int off = slot % block_size;
        const float *ki = k + (size_t)i * k_stride, *vi = v + (size_t)i * v_stride;
        for (int h = 0; h < num_kv_heads; h++) {
            size_t base = (block * num_kv_heads + h) * (size_t)head_dim * block_size;
            if (dtype == SW_KV_BF16) {
                uint16_t *kc = (uint16_t *)k_cache + base, *vc = (uint16_t *)v_cache + base;
                for (int d = 0; d < head_dim; d++) {
                    kc[k_index(dtype, d, off, head_dim, block_size)] = f32_to_bf16(ki[h * head_dim + d]);
                    vc[v_index(dtype, off, d, head_dim)] = f32_to_bf16(vi[h * head_dim + d]);
                }
            } else {
                float *kc = (float *)k_cache + base, *vc = (float *)v_cache + base;
                for (int d = 0; d < head_dim; d++) {
                    kc[k_index(dtype, d, off, head_dim, block_size)] = ki[h * head_dim + d];
                    vc[v_index(dtype, off, d, head_dim)] = vi[h * head_dim + d];
                }
            }
        }
    }
}

void sw_copy_blocks(void *k_cache, void *v_cache, size_t block_bytes,
                    const int32_t *src, const int32_t *dst, int n) {
    for (int i = 0; i < n; i++) {
        memcpy((char *)k_cache + (size_t)dst[i] * block_bytes, (char *)k_cache + (size_t)src[i] * block_bytes, block_bytes);
        memcpy((char *)v_cache + (size_t)dst[i] * block_bytes, (char *)v_cache + (size_t)src[i] * block_bytes, block_bytes);
    }
}
