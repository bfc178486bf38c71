// One batched decode step of a SmolLM2-135M-shaped model (30 layers, hidden 576, ffn 1536,
// 9 query heads over 3 KV heads of 64, Q4_1 weights, bf16 paged KV cache) on random data, built
// straight from the C kernels so that attention and matmul changes can be timed in seconds:
//   Benchmarks/kernels/build.sh && /tmp/swiftlet-kstep [threads] [sequences] [context] [steps]
// Each layer has its own weights and cache, as in the model, so both stream from memory.
// BENCH_KV=i8 or f32 picks the KV cache element type (default bf16); BENCH_ADJACENT=1 keeps each
// sequence's blocks side by side (default: scattered). BENCH_WEIGHTS=q8_0 makes the layers' weights
// Q8_0 (as in a Q8_0 GGUF) and BENCH_HEAD=q8_0 the head's (as in SmolLM2's Q4_1 GGUF too).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "sw_attention.h"
#include "sw_cpu.h"
#include "sw_dnnl.h"
#include "sw_gemm_f32.h"
#include "sw_ops.h"
#include "sw_pool.h"
#include "sw_quant.h"
#include "sw_quant_test_hooks.h"
#include "sw_sampling.h"
#include "bench_random.h"

enum { L = 30, D = 576, F = 1536, H = 9, KVH = 3, HD = 64, BS = 16, V = 49152 };

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}


static void *qrand(sw_qtype t, int N, int K) {
    const size_t nb = (size_t)N * (K / 32), bb = sw_qtype_block_bytes(t);
    uint8_t *w = malloc(bb * nb);
    for (size_t b = 0; b < nb; b++) {
        uint8_t *p = w + b * bb;
        uint16_t d = sw_f32_to_f16_1(0.002f + 0.01f * (rnd() % 100) / 100.0f), m = sw_f32_to_f16_1(-0.01f * (rnd() % 100) / 100.0f);
        memcpy(p, &d, 2);
        if (t == SW_QTYPE_Q4_1) memcpy(p + 2, &m, 2);
        for (size_t j = t == SW_QTYPE_Q4_1 ? 4 : 2; j < bb; j++) p[j] = (uint8_t)rnd();
    }
    return w;
}

static sw_qtype env_qtype(const char *name) {
    const char *v = getenv(name);
    return v && strcmp(v, "q8_0") == 0 ? SW_QTYPE_Q8_0 : SW_QTYPE_Q4_1;
}

// Like PagedKVCache: an anonymous mapping, with transparent huge pages when BENCH_HUGE=1.
static void *cache_alloc(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) abort();
    if (getenv("BENCH_HUGE") && atoi(getenv("BENCH_HUGE"))) madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

// A weight matrix with its packed copy, as the model's Linear holds them.
typedef struct { void *w, *p; sw_qtype t; } qmat;

static qmat qmatp(sw_qtype t, int N, int K) {
    qmat q = {qrand(t, N, K), NULL, t};
    const size_t bytes = sw_qpack_bytes(t, N, K);
    if (bytes) {
        q.p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        sw_qpack(t, q.w, N, K, q.p);
    }
    return q;
}

typedef struct { qmat qkv, o, gu, down; void *kc, *vc; } layer;

enum { OP_MATMUL, OP_ATTN, OP_HEAD, OP_OTHER, OP_N };
static const char *op_name[] = {"matmul", "attention", "head", "other"};

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const int nth = argc > 1 ? atoi(argv[1]) : 2, S = argc > 2 ? atoi(argv[2]) : 32;
    const int ctx = argc > 3 ? atoi(argv[3]) : 256, steps = argc > 4 ? atoi(argv[4]) : 10;
    const int per = (ctx + 1 + BS - 1) / BS, nblocks = per * S;
    // KV element type: BENCH_KV=bf16 (default), f32 or i8.
    const char *kv_env = getenv("BENCH_KV");
    const int kv = kv_env && !strcmp(kv_env, "i8") ? SW_KV_I8 : kv_env && !strcmp(kv_env, "f32") ? SW_KV_F32 : SW_KV_BF16;
    const size_t block_bytes = sw_kv_head_block_bytes(kv, HD, BS) * KVH;
    sw_pool *pool = sw_pool_create(nth);
    const sw_qtype wt = env_qtype("BENCH_WEIGHTS");
    layer ly[L];
    // Every slot of the cache gets a random key and value through the cache writer.
    const int fill = 256;
    float *kvr = malloc(sizeof(float) * fill * 2 * KVH * HD);
    int32_t *fslots = malloc(sizeof(int32_t) * fill);
    for (int l = 0; l < L; l++) {
        ly[l].qkv = qmatp(wt, (H + 2 * KVH) * HD, D);
        ly[l].o = qmatp(wt, D, H * HD);
        ly[l].gu = qmatp(wt, 2 * F, D);
        ly[l].down = qmatp(wt, D, F);
        ly[l].kc = cache_alloc(block_bytes * nblocks);
        ly[l].vc = cache_alloc(block_bytes * nblocks);
        for (int s0 = 0; s0 < nblocks * BS; s0 += fill) {
            const int n = nblocks * BS - s0 < fill ? nblocks * BS - s0 : fill;
            for (int i = 0; i < n * 2 * KVH * HD; i++) kvr[i] = frnd();
            for (int i = 0; i < n; i++) fslots[i] = s0 + i;
            sw_kv_write(kvr, 2 * KVH * HD, kvr + KVH * HD, 2 * KVH * HD, fslots, n, ly[l].kc, ly[l].vc, kv, KVH, HD, BS);
        }
    }
    qmat head = qmatp(env_qtype("BENCH_HEAD"), V, D);
    const int T = S, qkvw = (H + 2 * KVH) * HD;
    float *h = malloc(sizeof(float) * T * D), *xn = malloc(sizeof(float) * T * F), *qkv = malloc(sizeof(float) * T * qkvw);
    float *att = malloc(sizeof(float) * T * H * HD), *gu = malloc(sizeof(float) * T * 2 * F), *act = malloc(sizeof(float) * T * F);
    float *logits = malloc(sizeof(float) * (size_t)T * V), *nw = malloc(sizeof(float) * F);
    void *xq = malloc(sw_q8a_row_bytes(F) * T);
    for (int i = 0; i < T * D; i++) h[i] = frnd();
    for (int i = 0; i < F; i++) nw[i] = 1.0f;
    int32_t *qs = malloc(sizeof(int32_t) * (S + 1)), *cl = malloc(sizeof(int32_t) * S), *bt = malloc(sizeof(int32_t) * S * per);
    int32_t *slots = malloc(sizeof(int32_t) * T), *pos = malloc(sizeof(int32_t) * T);
    // Blocks of a sequence are scattered over the cache, as after a while of serving; with
    // BENCH_ADJACENT=1 each sequence's blocks are side by side, as a prefill leaves them.
    int32_t *perm = malloc(sizeof(int32_t) * nblocks);
    for (int i = 0; i < nblocks; i++) perm[i] = i;
    if (!(getenv("BENCH_ADJACENT") && atoi(getenv("BENCH_ADJACENT"))))
        for (int i = nblocks - 1; i > 0; i--) { int j = rnd() % (i + 1), t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    for (int s = 0; s < S; s++) {
        qs[s] = s;
        cl[s] = ctx + 1;
        for (int b = 0; b < per; b++) bt[s * per + b] = perm[s * per + b];
        pos[s] = ctx;
        slots[s] = bt[s * per + ctx / BS] * BS + ctx % BS;
    }
    qs[S] = S;
    float inv_freq[HD / 2], *angles = malloc(sizeof(float) * T * HD);
    for (int i = 0; i < HD / 2; i++) inv_freq[i] = powf(100000.0f, -2.0f * i / HD);
    sw_attn_batch batch = {S, qs, cl, bt, per};
    double tw[OP_N] = {0}, tc[OP_N] = {0};
    double best = 1e9, total_w = 0;
    for (int step = -1; step < steps; step++) {
        double sw = wall(), lw = sw, lc = cpu();
#define LAP(op) do { double w_ = wall(), c_ = cpu(); if (step >= 0) { tw[op] += w_ - lw; tc[op] += c_ - lc; } lw = w_; lc = c_; } while (0)
        // As the model does: the rope angles of the step's positions once, shared by every layer.
        sw_rope_cos_sin(pos, T, inv_freq, HD / 2, angles);
        for (int l = 0; l < L; l++) {
            sw_rmsnorm(h, D, nw, xn, D, T, D, 1e-5f);
            LAP(OP_OTHER);
            sw_quantize_rows_q8a(xn, D, T, D, xq);
            sw_gemm_qp(pool, ly[l].qkv.t, ly[l].qkv.w, ly[l].qkv.p, qkvw, D, xq, T, qkv, qkvw);
            LAP(OP_MATMUL);
            sw_rope_apply(qkv, qkvw, T, H, HD, HD, angles, 0);
            sw_rope_apply(qkv + H * HD, qkvw, T, KVH, HD, HD, angles, 0);
            sw_kv_write(qkv + H * HD, qkvw, qkv + (H + KVH) * HD, qkvw, slots, T, ly[l].kc, ly[l].vc, kv, KVH, HD, BS);
            LAP(OP_OTHER);
            sw_paged_attention(pool, qkv, qkvw, att, H * HD, ly[l].kc, ly[l].vc, kv, H, KVH, HD, BS, &batch, 0.125f, 0);
            LAP(OP_ATTN);
            sw_quantize_rows_q8a(att, H * HD, T, H * HD, xq);
            sw_gemm_qp(pool, ly[l].o.t, ly[l].o.w, ly[l].o.p, D, H * HD, xq, T, xn, D);
            LAP(OP_MATMUL);
            sw_add_rows(h, D, xn, D, T, D);
            sw_rmsnorm(h, D, nw, xn, D, T, D, 1e-5f);
            LAP(OP_OTHER);
            sw_quantize_rows_q8a(xn, D, T, D, xq);
            sw_gemm_qp(pool, ly[l].gu.t, ly[l].gu.w, ly[l].gu.p, 2 * F, D, xq, T, gu, 2 * F);
            LAP(OP_MATMUL);
            sw_silu_mul(gu, 2 * F, act, F, T, F);
            LAP(OP_OTHER);
            sw_quantize_rows_q8a(act, F, T, F, xq);
            sw_gemm_qp(pool, ly[l].down.t, ly[l].down.w, ly[l].down.p, D, F, xq, T, xn, D);
            LAP(OP_MATMUL);
            sw_add_rows(h, D, xn, D, T, D);
            // Keep the residual stream bounded over many layers of random weights.
            sw_rmsnorm(h, D, nw, h, D, T, D, 1e-5f);
            LAP(OP_OTHER);
        }
        sw_rmsnorm(h, D, nw, xn, D, T, D, 1e-5f);
        LAP(OP_OTHER);
        sw_quantize_rows_q8a(xn, D, T, D, xq);
        sw_gemm_qp(pool, head.t, head.w, head.p, V, D, xq, T, logits, V);
        LAP(OP_HEAD);
        double dt = wall() - sw;
        if (step >= 0) { total_w += dt; if (dt < best) best = dt; }
    }
    printf("threads %d, %d sequences x %d context: mean %.2f ms/step (%.0f tok/s), best %.2f ms (%.0f tok/s)\n", nth, S, ctx,
           total_w / steps * 1e3, S * steps / total_w, best * 1e3, S / best);
    for (int op = 0; op < OP_N; op++)
        printf("  %-9s wall %7.2f ms/step, cpu %7.2f ms/step\n", op_name[op], tw[op] / steps * 1e3, tc[op] / steps * 1e3);
    printf("check %g\n", (double)logits[7] + att[3]);
    sw_pool_destroy(pool);
    return 0;
}
