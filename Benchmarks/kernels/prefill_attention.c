// Prefill attention alone: S sequences of T new tokens each (context T) through sw_paged_attention,
// with SmolLM2-135M's heads (9 query, 3 kv, head_dim 64) and a bf16 cache with scattered blocks.
//   prefill_attention THREADS SEQUENCES TOKENS ITERATIONS
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "sw_attention.h"
#include "sw_pool.h"

enum { H = 9, KVH = 3, HD = 64, BS = 16 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// CPU time of the process: on a shared machine it counts only the time this benchmark ran.
static double cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static unsigned g_state = 1;
static float frnd(void) {
    g_state = g_state * 1103515245u + 12345u;
    return ((g_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

int main(int argc, char **argv) {
    const int nth = argc > 1 ? atoi(argv[1]) : 1, S = argc > 2 ? atoi(argv[2]) : 1;
    const int T = argc > 3 ? atoi(argv[3]) : 512, iters = argc > 4 ? atoi(argv[4]) : 20;
    const int per = (T + BS - 1) / BS, nblocks = per * S;
    const size_t block_bytes = sw_kv_head_block_bytes(SW_KV_BF16, HD, BS) * KVH;
    void *kc = aligned_alloc(64, block_bytes * nblocks), *vc = aligned_alloc(64, block_bytes * nblocks);
    const long nkv = (long)S * T * 2 * KVH * HD, nq = (long)S * T * H * HD;
    float *kv = malloc(sizeof(float) * nkv), *q = malloc(sizeof(float) * nq), *out = malloc(sizeof(float) * nq);
    for (long i = 0; i < nkv; i++) kv[i] = frnd();
    for (long i = 0; i < nq; i++) q[i] = frnd();
    int32_t *slots = malloc(sizeof(int32_t) * S * T), *table = malloc(sizeof(int32_t) * nblocks);
    int32_t *qstart = malloc(sizeof(int32_t) * (S + 1)), *ctx = malloc(sizeof(int32_t) * S);
    // Scattered blocks, as after a while of serving.
    for (int i = 0; i < nblocks; i++) table[i] = (int32_t)(((long)i * 7919) % nblocks);
    for (int s = 0; s < S; s++) {
        qstart[s] = s * T;
        ctx[s] = T;
        for (int t = 0; t < T; t++) slots[s * T + t] = table[s * per + t / BS] * BS + t % BS;
    }
    qstart[S] = S * T;
    sw_kv_write(kv, 2 * KVH * HD, kv + KVH * HD, 2 * KVH * HD, slots, S * T, kc, vc, SW_KV_BF16, KVH, HD, BS);
    sw_attn_batch batch = {S, qstart, ctx, table, per};
    sw_pool *pool = sw_pool_create(nth);
    double best = 1e9, total = 0, cpu_total = 0;
    for (int i = -1; i < iters; i++) {
        const double t0 = now(), c0 = cpu();
        sw_paged_attention(pool, q, H * HD, out, H * HD, kc, vc, SW_KV_BF16, H, KVH, HD, BS, &batch, 0.125f, 0);
        const double dt = now() - t0;
        if (i >= 0) {
            total += dt;
            cpu_total += cpu() - c0;
            if (dt < best) best = dt;
        }
    }
    const double flop = (double)S * H * ((double)T * (T + 1) / 2) * HD * 4;
    printf("%d sequences x %d tokens: mean %.2f ms, best %.2f ms (%.1f GFLOP/s); 30 layers at best: %.1f ms; cpu %.2f ms; check %g\n",
           S, T, total / iters * 1e3, best * 1e3, flop / best / 1e9, best * 30e3, cpu_total / iters * 1e3, (double)out[5] + out[nq - 3]);
    sw_pool_destroy(pool);
    return 0;
}
