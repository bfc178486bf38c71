// Shared between the paged attention dispatcher (sw_attention.c) and its per-level kernels
// (sw_attention_avx512.c, sw_attention_avx2.c). Internal header, not part of the module's API.
#pragma once
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "sw_attention.h"

// Paged attention. Work is split into tasks of (sequence, kv head, tile of query tokens); a tile's
// rows are every query head of the group for each of its tokens, so each K/V block is converted
// once and reused by all of them.
//
// Batch invariance: a sequence's output must not depend on what else is in the batch. Tiles
// depend only on the sequence's own query length and the head grouping, and each kernel picks its
// path and reduction order from the tile alone (never from buffer sizes or the task split).

enum { SW_Q_TILE = 16, SW_MAX_ROWS = 128, SW_MAX_HEAD_DIM = 256, SW_CHUNK = 16 };
// The two-pass kernel takes tiles of at most SW_TWO_PASS_ROWS rows and SW_SCORES scores per thread.
enum { SW_TWO_PASS_ROWS = 16, SW_SCORES = 16 * 8192 };

// A unit of work: a tile of one sequence's query tokens against one kv head (-1: every kv head).
typedef struct {
    int64_t cost;
    int32_t seq, tile, head;
} attn_task;

typedef struct {
    const float *q; size_t q_stride; float *out; size_t out_stride;
    const void *k_cache, *v_cache; int dtype;
    int num_heads, num_kv_heads, head_dim, block_size;
    const sw_attn_batch *batch; float scale; int window;
    int q_tile;
    int kernel;               // level whose kernel the tasks run (SW_ISA_SCALAR: the portable one),
                              // chosen on the calling thread from its sw_cpu_level()
    size_t head_bytes;        // bytes of one kv head's block (sw_kv_head_block_bytes)
    int num_tasks;
    const attn_task *tasks;
    // int8 caches: each query head rounded to int8 (q then holds the rounded values as floats):
    // its values, scale and sum, indexed by token * num_heads + head.
    const int8_t *q8; const float *q8_scale; const int32_t *q8_sum;
    float *scores;            // per-thread scratch of scores_per_thread floats (64-byte aligned)
    size_t scores_per_thread;
    _Atomic int next;
} attn_ctx;

// How many kv heads a kernel that takes several at once (AVX2) gets per call, for tiles of
// `rows` rows per kv head: all of them, as far as SW_MAX_ROWS rows go.
static inline int heads_per_call(int rows, int num_kv_heads) {
    const int n = SW_MAX_ROWS / (rows > 0 ? rows : 1);
    return n < 1 ? 1 : n > num_kv_heads ? num_kv_heads : n;
}

// The hint for the prefetches that run ahead over a sequence's scattered cache blocks: into L2,
// not L1. On AMD Zen 4 (batched decode, 32 sequences x 256 keys, bf16 cache, one thread) the L2
// hint alone took the AVX-512 decode kernel from about 23 to 16 ms of CPU a step (30 layers);
// presumably an L1 prefetch holds one of the few L1 miss buffers the kernel's own loads then wait
// for, while from L2 the hardware's L1 prefetcher brings a block's lines on in order.
#define SW_ATTN_PREFETCH _MM_HINT_T1

// Byte offset of kv head kvh of cache block `block` (same in the K and V caches).
static inline size_t head_off(const attn_ctx *c, int32_t block, int kvh) {
    return ((size_t)block * c->num_kv_heads + kvh) * c->head_bytes;
}

// Positions [lo, hi] of keys some row of the tile may need.
static inline void tile_range(const attn_ctx *c, int s, int t0, int t1, int *lo, int *hi) {
    const sw_attn_batch *b = c->batch;
    int qlen = b->query_start[s + 1] - b->query_start[s];
    int first_pos = b->context_len[s] - qlen + t0;
    *hi = b->context_len[s] - qlen + t1 - 1;
    *lo = c->window > 0 ? (first_pos - c->window + 1 > 0 ? first_pos - c->window + 1 : 0) : 0;
}


// Per level: whether the level's kernel handles this cache type and head size, the scratch floats
// per thread it needs for a tile of `rows` rows whose keys span at most `keys` positions, and the
// kernel for one (sequence, kv head, tile of tokens t0..t1) with thread ith's scratch.
int sw_attn_avx512_fits(int dtype, int head_dim);
size_t sw_attn_avx512_scratch(int rows, int keys, int block_size, int head_dim);
void sw_attn_task_avx512(const attn_ctx *c, int ith, int s, int kvh, int t0, int t1);
int sw_attn_avx2_fits(int dtype, int head_dim);
size_t sw_attn_avx2_scratch(int rows, int keys, int block_size, int head_dim);
// The AVX2 kernel takes kv heads h0..h1-1 of a task together (heads_per_call of them at most).
void sw_attn_task_avx2(const attn_ctx *c, int ith, int s, int h0, int h1, int t0, int t1);
int sw_attn_neon_fits(int dtype, int head_dim);
size_t sw_attn_neon_scratch(int rows, int keys, int block_size, int head_dim);
void sw_attn_task_neon(const attn_ctx *c, int ith, int s, int kvh, int t0, int t1);
