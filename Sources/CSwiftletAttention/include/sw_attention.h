#pragma once
#include <stddef.h>
#include <stdint.h>
#include "sw_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Element type of the paged KV cache. SW_KV_I8 stores symmetric int8 values with one float scale
/// per token and kv head (after the head's values), halving the bytes attention reads against bf16.
enum { SW_KV_F32 = 0, SW_KV_BF16 = 1, SW_KV_I8 = 2 };

/// Bytes of one kv head's share of a block; a block of one layer's K (or V) cache holds
/// num_kv_heads of them.
size_t sw_kv_head_block_bytes(int dtype, int head_dim, int block_size);

/// The sequences of one forward pass, as the paged kernels see them.
/// Sequence s owns new tokens [query_start[s], query_start[s+1]) of the flat batch; they are the
/// last tokens of its context of context_len[s] tokens, whose keys and values (new ones included,
/// after sw_kv_write) live in the blocks block_tables[s * max_blocks_per_seq + i].
typedef struct {
    int num_seqs;
    const int32_t *query_start;
    const int32_t *context_len;
    const int32_t *block_tables;
    int max_blocks_per_seq;
} sw_attn_batch;

/// Cache layout per layer: K as [block][kv_head][head_dim][block_size] (transposed so a block's
/// scores vectorise over tokens), V as [block][kv_head][block_size][head_dim]; bf16 blocks pair
/// up dims inside that order so that one load converts with one op (see sw_kv_layout.h).
/// Writes token i's K and V into slot slot_mapping[i] (block * block_size + offset); slots < 0 are skipped.
void sw_kv_write(const float *k, size_t k_stride, const float *v, size_t v_stride,
                 const int32_t *slot_mapping, int num_tokens,
                 void *k_cache, void *v_cache, int dtype,
                 int num_kv_heads, int head_dim, int block_size);

/// Causal attention of every new token over its sequence's cached context, read through the block
/// tables. q holds num_heads * head_dim floats per token (stride q_stride); out likewise.
/// sliding_window > 0 limits each query to the last sliding_window positions (itself included).
/// Block-table entries before the window of a sequence's first query may be -1 (blocks freed by
/// the window): they are never read. An entry of -1 that some query's window covers aborts.
void sw_paged_attention(sw_pool *pool, const float *q, size_t q_stride, float *out, size_t out_stride,
                        const void *k_cache, const void *v_cache, int dtype,
                        int num_heads, int num_kv_heads, int head_dim, int block_size,
                        const sw_attn_batch *batch, float scale, int sliding_window);

/// Copies whole blocks src[i] -> dst[i] in one call (copy-on-write), for one layer's K and V.
void sw_copy_blocks(void *k_cache, void *v_cache, size_t block_bytes,
                    const int32_t *src, const int32_t *dst, int n);

#ifdef __cplusplus
}
#endif
