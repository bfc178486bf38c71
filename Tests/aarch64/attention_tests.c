// The KV cache writer and paged attention at the NEON level against the scalar level: caches
// bit-identical, attention within the Swift tests' tolerance, and each sequence's output the same
// bits alone as inside the batch.
#include <stdlib.h>
#include "check.h"
#include "sw_attention.h"
#include "sw_pool.h"

enum { SEQS = 6, MAXB = 8 };

typedef struct {
    int dtype, heads, kv_heads, hd, bs, window;
} geometry;

typedef struct {
    int32_t qs[SEQS + 1], ctx[SEQS], table[SEQS * MAXB];
    int T, nblocks;
    float *q;
    void *kc, *vc;
} setup;

static const int qlen_of[SEQS] = {1, 20, 7, 1, 3, 1};
static const int ctx_of[SEQS] = {45, 20, 50, 9, 33, 1};

// Random K/V for every context position of every sequence, written through sw_kv_write at `level`.
static void fill_cache(const geometry *g, setup *st, int level, uint64_t seed) {
    uint64_t s = seed;
    const size_t hb = sw_kv_head_block_bytes(g->dtype, g->hd, g->bs) * g->kv_heads;
    st->kc = calloc((size_t)st->nblocks, hb);
    st->vc = calloc((size_t)st->nblocks, hb);
    const int width = g->kv_heads * g->hd;
    float *k = malloc(sizeof(float) * width), *v = malloc(sizeof(float) * width);
    use_level(level);
    for (int q = 0; q < SEQS; q++)
        for (int p = 0; p < st->ctx[q]; p++) {
            fill(&s, k, (size_t)width, 2.0f);
            fill(&s, v, (size_t)width, 1.0f);
            const int32_t slot = st->table[q * MAXB + p / g->bs] * g->bs + p % g->bs;
            sw_kv_write(k, width, v, width, &slot, 1, st->kc, st->vc, g->dtype, g->kv_heads, g->hd, g->bs);
        }
    use_level(-1);
    free(k);
    free(v);
}

static void make_setup(const geometry *g, setup *st) {
    uint64_t s = 0x5eed0006;
    st->qs[0] = 0;
    for (int q = 0; q < SEQS; q++) {
        st->qs[q + 1] = st->qs[q] + qlen_of[q];
        st->ctx[q] = ctx_of[q];
    }
    st->T = st->qs[SEQS];
    // Blocks in a shuffled order, so tables are not contiguous.
    st->nblocks = SEQS * MAXB;
    int perm[SEQS * MAXB];
    for (int i = 0; i < st->nblocks; i++) perm[i] = i;
    for (int i = st->nblocks - 1; i > 0; i--) {
        const int j = (int)(rng_next(&s) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(st->table, perm, sizeof perm);
    st->q = malloc(sizeof(float) * st->T * g->heads * g->hd);
    fill(&s, st->q, (size_t)st->T * g->heads * g->hd, 1.5f);
}

static void attend(const geometry *g, const setup *st, sw_pool *pool, const float *q, float *out, int first, int nseq) {
    const int32_t base = st->qs[first];
    int32_t qs[SEQS + 1];
    for (int i = 0; i <= nseq; i++) qs[i] = st->qs[first + i] - base;
    const sw_attn_batch b = {nseq, qs, st->ctx + first, st->table + first * MAXB, MAXB};
    const size_t w = (size_t)g->heads * g->hd;
    sw_paged_attention(pool, q + base * w, w, out + base * w, w, st->kc, st->vc, g->dtype, g->heads, g->kv_heads,
                       g->hd, g->bs, &b, 1.0f / sqrtf((float)g->hd), g->window);
}

static void test_geometry(const geometry *g, sw_pool *pool) {
    setup st, ref;
    make_setup(g, &st);
    ref = st;
    char what[200];
    snprintf(what, sizeof what, "dtype %d heads %d/%d head_dim %d block %d window %d threads %d", g->dtype, g->heads,
             g->kv_heads, g->hd, g->bs, g->window, pool ? sw_pool_size(pool) : 1);
    fill_cache(g, &ref, SW_ISA_SCALAR, 0x5eed0007);
    fill_cache(g, &st, SW_ISA_NEON, 0x5eed0007);
    const size_t cache = sw_kv_head_block_bytes(g->dtype, g->hd, g->bs) * g->kv_heads * st.nblocks;
    char msg[300];
    snprintf(msg, sizeof msg, "sw_kv_write K, %s", what);
    check_bits(st.kc, ref.kc, cache, msg);
    snprintf(msg, sizeof msg, "sw_kv_write V, %s", what);
    check_bits(st.vc, ref.vc, cache, msg);

    const size_t n = (size_t)st.T * g->heads * g->hd;
    float *a = malloc(n * 4), *b = malloc(n * 4), *one = malloc(n * 4);
    use_level(SW_ISA_SCALAR);
    attend(g, &ref, NULL, ref.q, a, 0, SEQS);
    use_level(SW_ISA_NEON);
    attend(g, &st, pool, st.q, b, 0, SEQS);
    snprintf(msg, sizeof msg, "sw_paged_attention vs scalar, %s", what);
    check_close(b, a, n, 2e-5, msg);
    // The NEON kernel sums in another order than the portable one, so identical bits would mean
    // the dispatch never reached it.
    if (g->hd % (g->dtype == SW_KV_BF16 ? 32 : 8) == 0) {
        snprintf(msg, sizeof msg, "sw_paged_attention at the NEON level ran the portable kernel, %s", what);
        check(memcmp(a, b, n * 4) != 0, msg);
    }
    // Each sequence alone.
    const size_t w = (size_t)g->heads * g->hd;
    for (int q = 0; q < SEQS; q++) {
        attend(g, &st, pool, st.q, one, q, 1);
        snprintf(msg, sizeof msg, "sw_paged_attention sequence %d alone vs in the batch, %s", q, what);
        check_bits(one + st.qs[q] * w, b + st.qs[q] * w, (size_t)qlen_of[q] * w * 4, msg);
    }
    use_level(-1);
    free(a); free(b); free(one);
    free(st.q); free(st.kc); free(st.vc); free(ref.kc); free(ref.vc);
}

void test_attention(void) {
    static const geometry gs[] = {
        {SW_KV_F32, 8, 2, 64, 16, 0},  {SW_KV_BF16, 8, 2, 64, 16, 0}, {SW_KV_I8, 8, 2, 64, 16, 0},
        {SW_KV_F32, 4, 4, 32, 6, 9},   {SW_KV_BF16, 6, 2, 96, 16, 5}, {SW_KV_I8, 4, 1, 40, 10, 0},
        {SW_KV_I8, 4, 2, 40, 8, 7},
        {SW_KV_BF16, 2, 1, 40, 16, 0},  // head_dim the NEON kernel leaves to the portable one
    };
    sw_pool *pool = sw_pool_create(3);
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        test_geometry(&gs[i], NULL);
        test_geometry(&gs[i], pool);
    }
    sw_pool_destroy(pool);
}
