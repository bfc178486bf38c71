// Paged attention (decode and chunked prefill) over the blocks sw_kv_cache.c writes: the task
// split, the level's kernel choice and the portable kernel. The SIMD kernels live in
// sw_attention_avx512.c and sw_attention_avx2.c.
#include "sw_attention.h"
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sw_attention_impl.h"
#include "sw_cpu.h"
#include "sw_kv_layout.h"

static int task_cmp(const void *a, const void *b) {
    const int64_t x = ((const attn_task *)a)->cost, y = ((const attn_task *)b)->cost;
    return x < y ? 1 : x > y ? -1 : 0;
}
// Portable path: any head_dim and block size.
static void attn_task_generic(const attn_ctx *c, int s, int kvh, int t0, int t1) {
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, G = c->num_heads / c->num_kv_heads;
    const int qlen = b->query_start[s + 1] - b->query_start[s];
    const int rows = (t1 - t0) * G;
    float m[SW_MAX_ROWS], l[SW_MAX_ROWS];
    float *acc = calloc((size_t)rows * hd, sizeof(float));
    int pos[SW_MAX_ROWS];
    for (int r = 0; r < rows; r++) { m[r] = -INFINITY; l[r] = 0; pos[r] = b->context_len[s] - qlen + t0 + r / G; }
    int lo, hi;
    tile_range(c, s, t0, t1, &lo, &hi);
    const int32_t *table = b->block_tables + (size_t)s * b->max_blocks_per_seq;
    for (int kp = lo - lo % bs; kp <= hi; kp += bs) {
        const char *kh = (const char *)c->k_cache + head_off(c, table[kp / bs], kvh);
        const char *vh = (const char *)c->v_cache + head_off(c, table[kp / bs], kvh);
        for (int o = 0; o < bs; o++) {
            int key = kp + o;
            if (key < lo || key > hi) continue;
            for (int r = 0; r < rows; r++) {
                if (key > pos[r] || (c->window > 0 && key <= pos[r] - c->window)) continue;
                int tok = t0 + r / G, head = kvh * G + r % G;
                const float *qr = c->q + (size_t)(b->query_start[s] + tok) * c->q_stride + (size_t)head * hd;
                float dot = 0;
                for (int d = 0; d < hd; d++) dot += qr[d] * k_value(c->dtype, kh, d, o, hd, bs);
                float sc = dot * c->scale;
                float mn = sc > m[r] ? sc : m[r];
                float corr = expf(m[r] - mn), p = expf(sc - mn);
                l[r] = l[r] * corr + p;
                m[r] = mn;
                float *ar = acc + (size_t)r * hd;
                for (int d = 0; d < hd; d++) ar[d] = ar[d] * corr + p * v_value(c->dtype, vh, o, d, hd, bs);
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        int tok = t0 + r / G, head = kvh * G + r % G;
        float *orow = c->out + (size_t)(b->query_start[s] + tok) * c->out_stride + (size_t)head * hd;
        float inv = l[r] > 0 ? 1.0f / l[r] : 0;
        for (int d = 0; d < hd; d++) orow[d] = acc[(size_t)r * hd + d] * inv;
    }
    free(acc);
}


static void attn_worker(void *ctx, int ith, int nth) {
    (void)ith; (void)nth;
    attn_ctx *c = ctx;
#if defined(__x86_64__)
    // Flush subnormals: a peaked softmax gives weights near e^-87 whose products with V are
    // subnormal, and each such FMA takes a microcode assist (measured: 10x slower attention).
    // Their contribution is below 1e-38 of the largest weight.
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
#endif
    for (;;) {
        int t = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
        if (t >= c->num_tasks) break;
        const attn_task *task = &c->tasks[t];
        const int s = task->seq, t0 = task->tile;
        const int h0 = task->head < 0 ? 0 : task->head, h1 = task->head < 0 ? c->num_kv_heads : h0 + 1;
        const int qlen = c->batch->query_start[s + 1] - c->batch->query_start[s];
        const int t1 = t0 + c->q_tile < qlen ? t0 + c->q_tile : qlen;
#if defined(__x86_64__)
        if (c->kernel == SW_ISA_AVX2) {
            const int per = heads_per_call((t1 - t0) * (c->num_heads / c->num_kv_heads), c->num_kv_heads);
            for (int h = h0; h < h1; h += per) sw_attn_task_avx2(c, ith, s, h, h + per < h1 ? h + per : h1, t0, t1);
            continue;
        }
#endif
        for (int kvh = h0; kvh < h1; kvh++) {
#if defined(__x86_64__)
            if (c->kernel == SW_ISA_AVX512) { sw_attn_task_avx512(c, ith, s, kvh, t0, t1); continue; }
#elif defined(__aarch64__)
            if (c->kernel == SW_ISA_NEON) { sw_attn_task_neon(c, ith, s, kvh, t0, t1); continue; }
#endif
            attn_task_generic(c, s, kvh, t0, t1);
        }
    }
#if defined(__x86_64__)
    _mm_setcsr(csr);
#endif
}

// The kernel a call runs: the level's own when it handles the cache type and head size, else the
// next level down that does.
static int pick_kernel(int level, int dtype, int head_dim) {
#if defined(__x86_64__)
    if (level == SW_ISA_AVX512 && sw_attn_avx512_fits(dtype, head_dim)) return SW_ISA_AVX512;
    if ((level == SW_ISA_AVX512 || level == SW_ISA_AVX2) && sw_attn_avx2_fits(dtype, head_dim)) return SW_ISA_AVX2;
#elif defined(__aarch64__)
    if (level == SW_ISA_NEON && sw_attn_neon_fits(dtype, head_dim)) return SW_ISA_NEON;
#endif
    (void)level; (void)dtype; (void)head_dim;
    return SW_ISA_SCALAR;
}

// Block-table entries < 0 are blocks the engine freed behind a sliding window. Every kernel reads
// only blocks lo / block_size .. hi / block_size of a tile (tile_range; prefetches run forward
// inside that span), so entries before the window of a sequence's first query are never touched;
// one inside it is the caller's error, and stopping beats reading memory outside the cache.
static void check_freed_entries(const sw_attn_batch *b, int block_size, int window) {
    for (int s = 0; s < b->num_seqs; s++) {
        const int qlen = b->query_start[s + 1] - b->query_start[s];
        if (qlen <= 0) continue;
        const int first = b->context_len[s] - qlen;
        const int lo = window > 0 && first - window + 1 > 0 ? first - window + 1 : 0;
        const int32_t *table = b->block_tables + (size_t)s * b->max_blocks_per_seq;
        for (int j = lo / block_size; j <= (b->context_len[s] - 1) / block_size; j++) {
            if (table[j] < 0) {
                fprintf(stderr, "sw_paged_attention: sequence %d would read freed block-table entry %d\n", s, j);
                abort();
            }
        }
    }
}

void sw_paged_attention(sw_pool *pool, const float *q, size_t q_stride, float *out, size_t out_stride,
                        const void *k_cache, const void *v_cache, int dtype,
                        int num_heads, int num_kv_heads, int head_dim, int block_size,
                        const sw_attn_batch *batch, float scale, int sliding_window) {
    check_freed_entries(batch, block_size, sliding_window);
    const int level = sw_cpu_level();
    const int kernel = pick_kernel(level, dtype, head_dim);
    const int G = num_heads / num_kv_heads;
    int q_tile = SW_MAX_ROWS / G;
    if (q_tile > SW_Q_TILE) q_tile = SW_Q_TILE;
    if (q_tile < 1) q_tile = 1;
    // With many sequences, one with a single tile of few rows (decode) is one task over all of
    // its kv heads: the heads of a block lie side by side, so one thread then streams whole
    // blocks. Longer tiles, and the sequences of small batches, are split by kv head to spread
    // the work over the threads. Either way a sequence's tiles are the same (few_rows <= q_tile),
    // so the split changes who computes a tile, never how.
    const int threads = pool ? sw_pool_size(pool) : 1;
    const int few_rows = batch->num_seqs < 4 * threads ? 0 : SW_TWO_PASS_ROWS / G > 0 ? SW_TWO_PASS_ROWS / G : 1;
    int n = 0;
    for (int s = 0; s < batch->num_seqs; s++) {
        int qlen = batch->query_start[s + 1] - batch->query_start[s];
        if (qlen <= 0) continue;
        n += qlen <= few_rows ? 1 : (qlen + q_tile - 1) / q_tile * num_kv_heads;
    }
    if (n == 0) return;
    attn_task stack_tasks[512];
    attn_task *tasks = n <= 512 ? stack_tasks : malloc(sizeof(attn_task) * (size_t)n);
    int k = 0;
    for (int s = 0; s < batch->num_seqs; s++) {
        int qlen = batch->query_start[s + 1] - batch->query_start[s];
        if (qlen <= 0) continue;
        if (qlen <= few_rows) {
            tasks[k++] = (attn_task){(int64_t)batch->context_len[s] * qlen * num_heads, s, 0, -1};
            continue;
        }
        for (int t0 = ((qlen - 1) / q_tile) * q_tile; t0 >= 0; t0 -= q_tile) {
            const int t1 = t0 + q_tile < qlen ? t0 + q_tile : qlen;
            const int64_t cost = (int64_t)(batch->context_len[s] - qlen + t1) * (t1 - t0) * G;
            for (int h = 0; h < num_kv_heads; h++) tasks[k++] = (attn_task){cost, s, t0, h};
        }
    }
    // Costliest tasks first (longer contexts, later query tiles), so the threads finish together.
    qsort(tasks, (size_t)n, sizeof(attn_task), task_cmp);
    attn_ctx c = {
        .q = q, .q_stride = q_stride, .out = out, .out_stride = out_stride,
        .k_cache = k_cache, .v_cache = v_cache, .dtype = dtype,
        .num_heads = num_heads, .num_kv_heads = num_kv_heads, .head_dim = head_dim, .block_size = block_size,
        .batch = batch, .scale = scale, .window = sliding_window, .q_tile = q_tile, .kernel = kernel,
        .head_bytes = sw_kv_head_block_bytes(dtype, head_dim, block_size),
        .num_tasks = n, .tasks = tasks,
    };
    // int8 caches: round every query head to int8 once (see q8_round).
    float *qr = NULL;
    int8_t *q8 = NULL;
    float *q8_scale = NULL;
    int32_t *q8_sum = NULL;
    if (dtype == SW_KV_I8) {
        const size_t T = (size_t)batch->query_start[batch->num_seqs], nrow = T * (size_t)num_heads;
        qr = aligned_alloc(64, (nrow * head_dim * sizeof(float) + 63) & ~(size_t)63);
        q8 = aligned_alloc(64, (nrow * head_dim + 63) & ~(size_t)63);
        q8_scale = malloc(nrow * sizeof(float) + 1);
        q8_sum = malloc(nrow * sizeof(int32_t) + 1);
        if (!qr || !q8 || !q8_scale || !q8_sum) abort();
        for (size_t t = 0; t < T; t++)
            for (int h = 0; h < num_heads; h++) {
                const size_t row = t * num_heads + h;
                q8_scale[row] = q8_round_any(level, q + t * q_stride + (size_t)h * head_dim, head_dim, q8 + row * head_dim,
                                             qr + row * head_dim, &q8_sum[row]);
            }
        c.q = qr;
        c.q_stride = (size_t)num_heads * head_dim;
        c.q8 = q8;
        c.q8_scale = q8_scale;
        c.q8_sum = q8_sum;
    }
    // Scratch per thread: enough for the largest tile of any sequence. Its size never changes
    // what a kernel computes; each kernel chooses its path from the tile alone.
    size_t per_thread = 0;
#if defined(__x86_64__)
    if (kernel != SW_ISA_SCALAR)
        for (int s = 0; s < batch->num_seqs; s++) {
            const int qlen = batch->query_start[s + 1] - batch->query_start[s];
            if (qlen <= 0) continue;
            const int rows = (qlen < q_tile ? qlen : q_tile) * G, keys = batch->context_len[s];
            const int heads = qlen <= few_rows ? heads_per_call(rows, num_kv_heads) : 1;
            const size_t need = kernel == SW_ISA_AVX512 ? sw_attn_avx512_scratch(rows, keys, block_size, head_dim)
                                                        : sw_attn_avx2_scratch(rows * heads, keys, block_size, head_dim);
            if (need > per_thread) per_thread = need;
        }
#elif defined(__aarch64__)
    if (kernel == SW_ISA_NEON)
        for (int s = 0; s < batch->num_seqs; s++) {
            const int qlen = batch->query_start[s + 1] - batch->query_start[s];
            if (qlen <= 0) continue;
            const size_t need = sw_attn_neon_scratch((qlen < q_tile ? qlen : q_tile) * G, batch->context_len[s], block_size, head_dim);
            if (need > per_thread) per_thread = need;
        }
#endif
    per_thread = (per_thread + 15) & ~(size_t)15;
    c.scores = per_thread ? aligned_alloc(64, per_thread * (n > 1 ? threads : 1) * sizeof(float)) : NULL;
    if (per_thread && !c.scores) abort();
    c.scores_per_thread = per_thread;
    atomic_init(&c.next, 0);
    if (pool && n > 1) sw_pool_run(pool, attn_worker, &c);
    else attn_worker(&c, 0, 1);
    free(c.scores);
    free(qr);
    free(q8);
    free(q8_scale);
    free(q8_sum);
    if (tasks != stack_tasks) free(tasks);
}
