// AVX2 paged attention: one kernel for decode and prefill tiles. The keys of a tile are taken in
// steps of whole blocks (about A2_STEP keys); each step computes the masked scores of every row
// that sees one of its keys straight from the cache, then one online-softmax update per row, then
// the weighted values. Rows go four at a time, so each loaded K or V vector serves four rows, and a
// step's blocks stay in L1/L2 for the next four. With a short context (decode) the whole context
// is one step: two passes over the cache with no rescaling. A decode task takes all the kv heads
// of its sequence together, walking each block's kv heads in turn (step_rows). The scores half is
// in sw_attention_avx2.h.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sw_attention_avx2.h"

#if defined(__x86_64__)

int sw_attn_avx2_fits(int dtype, int head_dim) {
    (void)dtype;
    return head_dim % 32 == 0 && head_dim <= SW_MAX_HEAD_DIM;
}

size_t sw_attn_avx2_scratch(int rows, int keys, int block_size, int head_dim) {
    (void)keys;
    return (size_t)rows * (size_t)(score_stride(block_size) + head_dim);
}

// Sixteen dims of value t (unit u of 16 dims: dims u*16.. for fp32 and int8; for bf16 the
// 16-dim unit u of the interleaved layout, dims {32(u/2) + 8(u%2) + 0..7} and the same + 16).
SW_AVX2 static inline __attribute__((always_inline)) void load_v16(const attn_ctx *c, const char *head, int t, int u, __m256 v[2]) {
    const int hd = c->head_dim;
    if (c->dtype == SW_KV_BF16) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)((const uint16_t *)head + (size_t)t * hd + 16 * u));
        v[0] = _mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
        v[1] = _mm256_castsi256_ps(_mm256_and_si256(x, _mm256_set1_epi32((int)0xffff0000u)));
    } else if (c->dtype == SW_KV_I8) {
        // Unscaled: the value scales are folded into the weights.
        const __m128i x = _mm_loadu_si128((const __m128i *)((const int8_t *)head + (size_t)t * hd + 16 * u));
        v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(x));
        v[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(x, x)));
    } else {
        const float *p = (const float *)head + (size_t)t * hd + 16 * u;
        v[0] = _mm256_loadu_ps(p);
        v[1] = _mm256_loadu_ps(p + 8);
    }
}

// Output dims of 16-dim unit u held in v[0], v[1] (see load_v16).
static inline int unit_dim(int dtype, int u, int half) {
    return dtype == SW_KV_BF16 ? 32 * (u / 2) + 8 * (u % 2) + 16 * half : 16 * u + 8 * half;
}

// acc += weights x values of blocks [bb0, bb1) of a step, for nr (<= 4) rows. Block by block,
// each block's rows taken whole (so that it is used up while in L1 and the prefetch distance
// counts in blocks), nu 16-dim units (1 or 2) at a time so that the sums of every row sit in
// registers.
SW_AVX2 static inline __attribute__((always_inline)) void pv(const step_span *st, int bb0, int bb1, const int nr, const int nu,
                                                            float *p, int sstride, int k0, int hi, float *acc, int pf) {
    const attn_ctx *c = st->c;
    const int hd = c->head_dim, bs = c->block_size;
    const size_t elem = c->dtype == SW_KV_BF16 ? 2 : c->dtype == SW_KV_I8 ? 1 : 4;
    const int row_lines = (int)((hd * elem + 63) / 64);
    for (int b = bb0; b < bb1; b++) {
        const int kb = b * bs;
        if (kb > hi) break;
        const char *head = (const char *)c->v_cache + head_off(c, st->table[b], st->kvh);
        const char *pft = pf ? pf_target(st, 1, b) : NULL;
        if (pft && c->dtype == SW_KV_I8) _mm_prefetch(pft + (size_t)hd * bs, SW_ATTN_PREFETCH);
        const int n = hi - kb + 1 < bs ? hi - kb + 1 : bs;
        float *pk = p + (kb - k0);
        if (c->dtype == SW_KV_I8)
            // Fold each value's scale into its weights once, so that the value loads stay plain
            // int8; here, because the block's scales arrive with its values (prefetched).
            for (int t = 0; t < n; t++) {
                const float sc = i8_scale(head, t, hd, bs);
                for (int r = 0; r < nr; r++) pk[(size_t)r * sstride + t] *= sc;
            }
        for (int u0 = 0; u0 < hd / 16; u0 += nu) {
            __m256 a[4][4];
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < nu; j++)
                    for (int h = 0; h < 2; h++) a[r][2 * j + h] = _mm256_loadu_ps(acc + (size_t)r * hd + unit_dim(c->dtype, u0 + j, h));
            for (int t = 0; t < n; t++) {
                if (pft && u0 == 0)
                    for (int j = 0; j < row_lines; j++) _mm_prefetch(pft + ((size_t)t * row_lines + j) * 64, SW_ATTN_PREFETCH);
                __m256 v[4];
                for (int j = 0; j < nu; j++) load_v16(c, head, t, u0 + j, v + 2 * j);
                for (int r = 0; r < nr; r++) {
                    const __m256 w = _mm256_broadcast_ss(pk + (size_t)r * sstride + t);
                    for (int j = 0; j < 2 * nu; j++) a[r][j] = _mm256_fmadd_ps(w, v[j], a[r][j]);
                }
            }
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < nu; j++)
                    for (int h = 0; h < 2; h++) _mm256_storeu_ps(acc + (size_t)r * hd + unit_dim(c->dtype, u0 + j, h), a[r][2 * j + h]);
        }
    }
}

// One group of nr rows against blocks [bb0, bb1): the scores, or the weighted values.
SW_AVX2 static void qk_rows(const step_span *st, int bb0, int bb1, int nr, const float *const *q, const int *pos, int k0,
                            int hi, float *s, int sstride, int pf) {
#define A2_QK(n) (st->c->dtype == SW_KV_I8 ? qk_i8(st, bb0, bb1, n, q, pos, k0, hi, s, sstride, pf) \
                                           : qk_fp(st, bb0, bb1, n, q, pos, k0, hi, s, sstride, pf))
    switch (nr) {
        case 1: A2_QK(1); break;
        case 2: A2_QK(2); break;
        case 3: A2_QK(3); break;
        default: A2_QK(4); break;
    }
#undef A2_QK
}

SW_AVX2 static void pv_rows(const step_span *st, int bb0, int bb1, int nr, float *p, int sstride, int k0, int hi, float *acc,
                            int pf) {
    switch (nr) {
        case 1: pv(st, bb0, bb1, 1, 2, p, sstride, k0, hi, acc, pf); break;
        case 2: pv(st, bb0, bb1, 2, 2, p, sstride, k0, hi, acc, pf); break;
        case 3: pv(st, bb0, bb1, 3, 1, p, sstride, k0, hi, acc, pf); break;
        default: pv(st, bb0, bb1, 4, 1, p, sstride, k0, hi, acc, pf); break;
    }
}

// Softmax update of one row over the nk scores of a step, in place into weights: returns the
// factor that rescales the row's earlier sums.
SW_AVX2 static float softmax_step(float *sr, int nk, float *m, float *l) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 mx = ninf;
    for (int i = 0; i < nk; i += 8) {
        const __m256 x = nk - i >= 8 ? _mm256_loadu_ps(sr + i) : _mm256_blendv_ps(ninf, _mm256_loadu_ps(sr + i), _mm256_castsi256_ps(sw_mask256(nk - i)));
        mx = _mm256_max_ps(mx, x);
    }
    const float cmax = sw_hmax256(mx);
    if (cmax == -INFINITY) {
        // No key of the step is visible to the row: weights 0, state unchanged.
        memset(sr, 0, (size_t)nk * sizeof(float));
        return 1.0f;
    }
    const float mn = cmax > *m ? cmax : *m, corr = expf(*m - mn);
    const __m256 vmn = _mm256_set1_ps(mn);
    __m256 sum = _mm256_setzero_ps();
    for (int i = 0; i < nk; i += 8) {
        const __m256 x = _mm256_loadu_ps(sr + i);
        __m256 live = _mm256_cmp_ps(x, ninf, _CMP_NEQ_OQ);
        if (nk - i < 8) live = _mm256_and_ps(live, _mm256_castsi256_ps(sw_mask256(nk - i)));
        const __m256 e = _mm256_and_ps(live, sw_exp256(_mm256_sub_ps(x, vmn)));
        _mm256_storeu_ps(sr + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    *l = *l * corr + sw_hsum256(sum);
    *m = mn;
    return corr;
}

// Rows [ra, rb) of every kv head h0..h1-1 (hr rows each) against the blocks of one step: the
// scores, or (values) the weighted values. One kv head: row group by row group over the whole step,
// so that the step's blocks are reused from L1. Several: block by block, each block's kv heads in
// turn, so that the cache is read in whole blocks (the kv heads of a block lie side by side) and
// the prefetch runs ahead over whole blocks. Either way each row sees the same operations in the
// same order, so the output does not depend on how many kv heads a task covers.
SW_AVX2 static void step_rows(step_span *st, int h0, int h1, int hr, int ra, int rb, int values, const float *const *qrow,
                              const int *pos, int k0, int hi, float *scores, int sstride, float *acc) {
    const int hd = st->c->head_dim, one = h1 - h0 == 1;
    for (int b = st->b0; b < st->b1; b++) {
        const int bb0 = one ? st->b0 : b, bb1 = one ? st->b1 : b + 1;
        for (int h = h0; h < h1; h++) {
            st->kvh = h;
            for (int r = (h - h0) * hr + ra; r < (h - h0) * hr + rb; r += 4) {
                const int nr = (h - h0) * hr + rb - r < 4 ? (h - h0) * hr + rb - r : 4, pf = r == (h - h0) * hr + ra;
                float *sr = scores + (size_t)r * sstride;
                if (values) pv_rows(st, bb0, bb1, nr, sr, sstride, k0, hi, acc + (size_t)r * hd, pf);
                else qk_rows(st, bb0, bb1, nr, qrow + r, pos + r, k0, hi, sr, sstride, pf);
            }
        }
        if (one) break;
    }
}

// Tiles t0..t1 of sequence s against kv heads h0..h1-1 (at most SW_MAX_ROWS rows in all).
SW_AVX2 void sw_attn_task_avx2(const attn_ctx *c, int ith, int s, int h0, int h1, int t0, int t1) {
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, G = c->num_heads / c->num_kv_heads;
    const int qlen = b->query_start[s + 1] - b->query_start[s];
    const int hr = (t1 - t0) * G, rows = hr * (h1 - h0), sstride = score_stride(bs), sb = step_blocks(bs);
    float *scores = c->scores + (size_t)ith * c->scores_per_thread, *acc = scores + (size_t)rows * sstride;
    float m[SW_MAX_ROWS], l[SW_MAX_ROWS];
    int pos[SW_MAX_ROWS];
    const float *qrow[SW_MAX_ROWS];
    for (int r = 0; r < rows; r++) {
        const int kvh = h0 + r / hr, rr = r % hr;
        m[r] = -INFINITY;
        l[r] = 0;
        pos[r] = b->context_len[s] - qlen + t0 + rr / G;
        qrow[r] = c->q + (size_t)(b->query_start[s] + t0 + rr / G) * c->q_stride + (size_t)(kvh * G + rr % G) * hd;
    }
    memset(acc, 0, (size_t)rows * hd * sizeof(float));
    int lo, hi;
    tile_range(c, s, t0, t1, &lo, &hi);
    step_span st = {c, b->block_tables + (size_t)s * b->max_blocks_per_seq, h0, 0, 0, hi / bs};
    for (int b0 = lo / bs; b0 <= hi / bs; b0 += sb) {
        st.b0 = b0;
        st.b1 = b0 + sb <= st.last_block ? b0 + sb : st.last_block + 1;
        const int k0 = b0 * bs, klast = st.b1 * bs - 1 < hi ? st.b1 * bs - 1 : hi, nk = klast - k0 + 1;
        // A kv head's rows go by position: those that see a key of the step (at or after k0, and
        // within their window of klast) are a contiguous run, the same in every kv head.
        int ra = 0, rb = hr;
        while (ra < hr && pos[ra] < k0) ra++;
        if (c->window > 0)
            while (rb > ra && pos[rb - 1] - c->window + 1 > klast) rb--;
        step_rows(&st, h0, h1, hr, ra, rb, 0, qrow, pos, k0, hi, scores, sstride, acc);
        for (int h = 0; h < h1 - h0; h++)
            for (int r = h * hr + ra; r < h * hr + rb; r++) {
                const __m256 corr = _mm256_set1_ps(softmax_step(scores + (size_t)r * sstride, nk, &m[r], &l[r]));
                for (int d = 0; d < hd; d += 8)
                    _mm256_storeu_ps(acc + (size_t)r * hd + d, _mm256_mul_ps(_mm256_loadu_ps(acc + (size_t)r * hd + d), corr));
            }
        step_rows(&st, h0, h1, hr, ra, rb, 1, qrow, pos, k0, klast, scores, sstride, acc);
    }
    for (int r = 0; r < rows; r++) {
        const int kvh = h0 + r / hr, rr = r % hr;
        float *orow = c->out + (size_t)(b->query_start[s] + t0 + rr / G) * c->out_stride + (size_t)(kvh * G + rr % G) * hd;
        const __m256 inv = _mm256_set1_ps(l[r] > 0 ? 1.0f / l[r] : 0);
        for (int d = 0; d < hd; d += 8) _mm256_storeu_ps(orow + d, _mm256_mul_ps(_mm256_loadu_ps(acc + (size_t)r * hd + d), inv));
    }
}
#endif
