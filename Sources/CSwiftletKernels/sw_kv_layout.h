// Layout of one kv head's share of a paged KV block, shared by the cache writer (sw_kv_cache.c)
// and the attention kernels (sw_attention.c). Internal header, not part of the module's API.
#pragma once
#include <stdint.h>
#include <string.h>
#include "sw_attention.h"

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
static inline size_t k_index(int dtype, int d, int o, int head_dim, int block_size) {
    if (dtype == SW_KV_BF16 && (head_dim & 1) == 0)
        return (size_t)(d >> 1) * block_size * 2 + (size_t)o * 2 + (size_t)(d & 1);
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
    if (dtype == SW_KV_I8) return (float)((const int8_t *)head)[i] * i8_scale(head, o, head_dim, block_size);
    return ((const float *)head)[i];
}

static inline float v_value(int dtype, const char *head, int o, int d, int head_dim, int block_size) {
    const size_t i = v_index(dtype, o, d, head_dim);
    if (dtype == SW_KV_BF16) return bf16_to_f32(((const uint16_t *)head)[i]);
    if (dtype == SW_KV_I8) return (float)((const int8_t *)head)[i] * i8_scale(head, o, head_dim, block_size);
    return ((const float *)head)[i];
}
