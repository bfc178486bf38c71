// AVX-512 paged attention: the online-softmax kernel for tiles of many rows (prefill), and the
// choice between it and the two-pass kernel (sw_attention_avx512_decode.c). The level includes
// VNNI, which the int8 scores use.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sw_attention_avx512.h"

#if defined(__x86_64__)

// Scores of nr (<= 4) query rows against the 16 keys of kt, into out + i * ostride: each K row
// loaded serves every query row, and two sums per row keep the FMAs off their latency chain.
SW_AVX512 static inline __attribute__((always_inline)) void qk_rows16(const int nr, const float *const *q, const float *kt,
                                                                     int hd, float *out, int ostride) {
    __m512 a[4][2];
    for (int i = 0; i < nr; i++) a[i][0] = a[i][1] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d += 2) {
        const __m512 k0 = _mm512_load_ps(kt + d * 16), k1 = _mm512_load_ps(kt + (d + 1) * 16);
        for (int i = 0; i < nr; i++) {
            a[i][0] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][d]), k0, a[i][0]);
            a[i][1] = _mm512_fmadd_ps(_mm512_set1_ps(q[i][d + 1]), k1, a[i][1]);
        }
    }
    for (int i = 0; i < nr; i++) _mm512_store_ps(out + i * ostride, _mm512_add_ps(a[i][0], a[i][1]));
}

// Keys of one step of the online kernel: up to SW_SUPER runs of at most 16 keys (one run per
// block when blocks are smaller than 16).
enum { SW_SUPER = 4 };
typedef struct {
    size_t base;   // byte offset of the run's kv head block
    int o, n;      // first key inside the block, and count
    int first;     // position of the first key
} key_run;

// Output accumulators of nrows rows (hd floats each, rows hd apart) scaled by corr[i] and plus
// the weights p (row i at p + i * pstride, run j at + 16 j) times the value rows of the step in
// vt: 32 dims at a time, each value vector loaded once for every row.
SW_AVX512 static inline __attribute__((always_inline)) void pv_step(
    const attn_ctx *c, const int nrows, const key_run *runs, int nr, const float *p, int pstride,
    const float *corr, float *acc, const float *vt) {
    const int hd = c->head_dim;
    for (int d = 0; d < hd; d += 32) {
        const int two = hd - d >= 32;
        __m512 a[4][2];
        for (int i = 0; i < nrows; i++) {
            const __m512 cv = _mm512_set1_ps(corr[i]);
            a[i][0] = _mm512_mul_ps(_mm512_loadu_ps(acc + (size_t)i * hd + d), cv);
            a[i][1] = two ? _mm512_mul_ps(_mm512_loadu_ps(acc + (size_t)i * hd + d + 16), cv) : _mm512_setzero_ps();
        }
        for (int j = 0; j < nr; j++) {
            const float *vj = vt + (size_t)j * 16 * hd + d;
            for (int t = 0; t < runs[j].n; t++) {
                const __m512 v0 = _mm512_load_ps(vj + (size_t)t * hd);
                const __m512 v1 = two ? _mm512_load_ps(vj + (size_t)t * hd + 16) : _mm512_setzero_ps();
                for (int i = 0; i < nrows; i++) {
                    const __m512 w = _mm512_set1_ps(p[(size_t)i * pstride + j * 16 + t]);
                    a[i][0] = _mm512_fmadd_ps(w, v0, a[i][0]);
                    if (two) a[i][1] = _mm512_fmadd_ps(w, v1, a[i][1]);
                }
            }
        }
        for (int i = 0; i < nrows; i++) {
            _mm512_storeu_ps(acc + (size_t)i * hd + d, a[i][0]);
            if (two) _mm512_storeu_ps(acc + (size_t)i * hd + d + 16, a[i][1]);
        }
    }
}

// Scores of nr (<= 4) query rows against SW_SUPER full chunks of 16 keys (kt: the chunks one
// after another, hd x 16 each), into out + i * ostride + 16 j: each loaded K row serves every
// query row, and each broadcast query element every chunk, with 16 independent sums.
SW_AVX512 static inline __attribute__((always_inline)) void qk_rows_super(const int nr, const float *const *q, const float *kt,
                                                                         int hd, float *out, int ostride) {
    __m512 a[4][SW_SUPER];
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < SW_SUPER; j++) a[i][j] = _mm512_setzero_ps();
    for (int d = 0; d < hd; d++) {
        __m512 k[SW_SUPER];
        for (int j = 0; j < SW_SUPER; j++) k[j] = _mm512_load_ps(kt + ((size_t)j * hd + d) * 16);
        for (int i = 0; i < nr; i++) {
            const __m512 qd = _mm512_set1_ps(q[i][d]);
            for (int j = 0; j < SW_SUPER; j++) a[i][j] = _mm512_fmadd_ps(qd, k[j], a[i][j]);
        }
    }
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < SW_SUPER; j++) _mm512_store_ps(out + (size_t)i * ostride + j * 16, a[i][j]);
}

// One step of the online softmax over the keys of `runs` for every row of the tile. Scores of all
// runs come first, so that each row pays for one max, one exp of the correction and one sum per
// step (up to 64 keys) instead of per 16 keys, and its output accumulators are read and written
// once per step.
SW_AVX512 static inline __attribute__((always_inline)) void online_step(
    const attn_ctx *c, const key_run *runs, int nr, int rows, const float *const *qrow, const int *pos,
    float *m, float *l, float *accp, float *kt, float *vt, float *sraw) {
    const int hd = c->head_dim, nv = hd / 16;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < nr; j++) {
        load_k_chunk(c, runs[j].base, runs[j].o, runs[j].n, kt + (size_t)j * hd * 16);
        for (int t = 0; t < runs[j].n; t++)
            for (int v = 0; v < nv; v++)
                _mm512_store_ps(vt + (size_t)(j * 16 + t) * hd + v * 16, load_v16(c, runs[j].base, runs[j].o + t, v * 16));
    }
    const int rstride = SW_SUPER * 16;
    // Raw scores of every row that can see a key of the step (rows go by position, so those are
    // a suffix), four rows at a time.
    for (int r = 0; r < rows;) {
        if (pos[r] < runs[0].first) { r++; continue; }
        const int k = rows - r < 4 ? rows - r : 4;
        if (nr == SW_SUPER) {
            switch (k) {
                case 1: qk_rows_super(1, qrow + r, kt, hd, sraw + (size_t)r * rstride, rstride); break;
                case 2: qk_rows_super(2, qrow + r, kt, hd, sraw + (size_t)r * rstride, rstride); break;
                case 3: qk_rows_super(3, qrow + r, kt, hd, sraw + (size_t)r * rstride, rstride); break;
                default: qk_rows_super(4, qrow + r, kt, hd, sraw + (size_t)r * rstride, rstride); break;
            }
            r += k;
            continue;
        }
        for (int j = 0; j < nr; j++) {
            float *out = sraw + (size_t)r * rstride + j * 16;
            const float *kj = kt + (size_t)j * hd * 16;
            switch (k) {
                case 1: qk_rows16(1, qrow + r, kj, hd, out, rstride); break;
                case 2: qk_rows16(2, qrow + r, kj, hd, out, rstride); break;
                case 3: qk_rows16(3, qrow + r, kj, hd, out, rstride); break;
                default: qk_rows16(4, qrow + r, kj, hd, out, rstride); break;
            }
        }
        r += k;
    }
    const __m512 scale = _mm512_set1_ps(c->scale);
    // Rows go by position: those that see no key of the step are a prefix.
    int r0 = 0;
    while (r0 < rows && pos[r0] < runs[0].first) r0++;
    float corr[SW_MAX_ROWS];
    for (int r = r0; r < rows; r++) {
        __m512 sc[SW_SUPER];
        __mmask16 ok[SW_SUPER];
        __m512 mx = ninf;
        for (int j = 0; j < nr; j++) {
            ok[j] = visible_keys(c, runs[j].first, (__mmask16)((1u << runs[j].n) - 1), pos[r]);
            sc[j] = _mm512_mask_blend_ps(ok[j], ninf, _mm512_mul_ps(_mm512_load_ps(sraw + (size_t)r * rstride + j * 16), scale));
            mx = _mm512_max_ps(mx, sc[j]);
        }
        const float cmax = _mm512_reduce_max_ps(mx);
        float *pr = sraw + (size_t)r * rstride;
        if (cmax == -INFINITY) {
            // No key of this step is visible to the row: weights 0, state unchanged.
            for (int j = 0; j < nr; j++) _mm512_store_ps(pr + j * 16, _mm512_setzero_ps());
            corr[r] = 1.0f;
            continue;
        }
        const float mn = cmax > m[r] ? cmax : m[r];
        corr[r] = expf(m[r] - mn);
        const __m512 vmn = _mm512_set1_ps(mn);
        __m512 psum = _mm512_setzero_ps();
        for (int j = 0; j < nr; j++) {
            const __m512 p = _mm512_maskz_mov_ps(ok[j], sw_exp512(_mm512_sub_ps(sc[j], vmn)));
            psum = _mm512_add_ps(psum, p);
            _mm512_store_ps(pr + j * 16, p);
        }
        l[r] = l[r] * corr[r] + _mm512_reduce_add_ps(psum);
        m[r] = mn;
    }
    // Weighted values, four rows at a time: each V row loaded serves all four.
    for (int r = r0; r < rows; r += 4) {
        switch (rows - r < 4 ? rows - r : 4) {
            case 1: pv_step(c, 1, runs, nr, sraw + (size_t)r * rstride, rstride, corr + r, accp + (size_t)r * hd, vt); break;
            case 2: pv_step(c, 2, runs, nr, sraw + (size_t)r * rstride, rstride, corr + r, accp + (size_t)r * hd, vt); break;
            case 3: pv_step(c, 3, runs, nr, sraw + (size_t)r * rstride, rstride, corr + r, accp + (size_t)r * hd, vt); break;
            default: pv_step(c, 4, runs, nr, sraw + (size_t)r * rstride, rstride, corr + r, accp + (size_t)r * hd, vt); break;
        }
    }
}

// Fast path: head_dim a multiple of 16 (at most 256). Keys are handled 16 at a time; scores of a
// chunk come from broadcasting q[d] against the transposed K rows, so no horizontal sums are needed.
SW_AVX512 static void attn_task_avx512(const attn_ctx *c, int s, int kvh, int t0, int t1) {
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, G = c->num_heads / c->num_kv_heads;
    const int qlen = b->query_start[s + 1] - b->query_start[s];
    const int rows = (t1 - t0) * G, nv = hd / 16;
    // Runs per step: as many as the K and V buffers hold (4 for head_dim 64, 1 for 256).
    const int super = SW_MAX_HEAD_DIM / hd < SW_SUPER ? SW_MAX_HEAD_DIM / hd : SW_SUPER;
    float m[SW_MAX_ROWS], l[SW_MAX_ROWS];
    int pos[SW_MAX_ROWS];
    float acc[SW_MAX_ROWS * 64] __attribute__((aligned(64)));
    float *accp = hd <= 64 ? acc : aligned_alloc(64, (size_t)rows * hd * sizeof(float));
    float kt[SW_MAX_HEAD_DIM * SW_CHUNK] __attribute__((aligned(64)));
    float vt[SW_CHUNK * SW_MAX_HEAD_DIM] __attribute__((aligned(64)));
    float sraw[SW_MAX_ROWS * SW_SUPER * 16] __attribute__((aligned(64)));
    const float *qrow[SW_MAX_ROWS];
    for (int r = 0; r < rows; r++) {
        m[r] = -INFINITY; l[r] = 0;
        pos[r] = b->context_len[s] - qlen + t0 + r / G;
        qrow[r] = c->q + (size_t)(b->query_start[s] + t0 + r / G) * c->q_stride + (size_t)(kvh * G + r % G) * hd;
        memset(accp + (size_t)r * hd, 0, (size_t)hd * sizeof(float));
    }
    int lo, hi;
    tile_range(c, s, t0, t1, &lo, &hi);
    const int32_t *table = b->block_tables + (size_t)s * b->max_blocks_per_seq;
    key_run runs[SW_SUPER];
    int nr = 0;
    for (int kp = lo - lo % bs; kp <= hi; kp += bs) {
        const size_t base = head_off(c, table[kp / bs], kvh);
        if (kp + bs <= hi) {
            const size_t next = head_off(c, table[kp / bs + 1], kvh);
            prefetch_block(c->k_cache, next, c->head_bytes);
            prefetch_block(c->v_cache, next, c->head_bytes);
        }
        for (int o = 0; o < bs; o += SW_CHUNK) {
            const int first = kp + o;
            if (first > hi) break;
            if (first + SW_CHUNK <= lo) continue;
            // Slots past the context are never read: unwritten, they may hold anything (even NaN,
            // which a zero weight would not cancel).
            int n = bs - o < SW_CHUNK ? bs - o : SW_CHUNK;
            if (n > hi - first + 1) n = hi - first + 1;
            runs[nr++] = (key_run){base, o, n, first};
            if (nr == super) {
                online_step(c, runs, nr, rows, qrow, pos, m, l, accp, kt, vt, sraw);
                nr = 0;
            }
        }
    }
    if (nr > 0) online_step(c, runs, nr, rows, qrow, pos, m, l, accp, kt, vt, sraw);
    for (int r = 0; r < rows; r++) {
        int tok = t0 + r / G, head = kvh * G + r % G;
        float *orow = c->out + (size_t)(b->query_start[s] + tok) * c->out_stride + (size_t)head * hd;
        __m512 inv = _mm512_set1_ps(l[r] > 0 ? 1.0f / l[r] : 0);
        for (int v = 0; v < nv; v++) _mm512_storeu_ps(orow + v * 16, _mm512_mul_ps(_mm512_loadu_ps(accp + (size_t)r * hd + v * 16), inv));
    }
    if (accp != acc) free(accp);
}

int sw_attn_avx512_fits(int dtype, int head_dim) {
    return head_dim % (dtype == SW_KV_BF16 ? 32 : 16) == 0 && head_dim <= SW_MAX_HEAD_DIM;
}

// Score floats of the two-pass kernel for a tile: rows padded to whole vectors plus one spare (see
// sw_attn_two_pass_avx512), from the block holding the first key.
static size_t two_pass_span(int lo, int hi, int bs) {
    return (size_t)(hi - (lo - lo % bs) + 1 + 15) / 16 * 16 + 16;
}

static int two_pass_fits(int rows, size_t span) {
    return rows <= SW_TWO_PASS_ROWS && (size_t)rows * span <= SW_SCORES;
}

size_t sw_attn_avx512_scratch(int rows, int keys, int block_size, int head_dim) {
    (void)head_dim;
    const size_t span = two_pass_span(0, keys + block_size - 2, block_size);
    const size_t n = (size_t)(rows < SW_TWO_PASS_ROWS ? rows : SW_TWO_PASS_ROWS) * span;
    return n < SW_SCORES ? n : SW_SCORES;
}

void sw_attn_task_avx512(const attn_ctx *c, int ith, int s, int kvh, int t0, int t1) {
    const int rows = (t1 - t0) * (c->num_heads / c->num_kv_heads);
    int lo, hi;
    tile_range(c, s, t0, t1, &lo, &hi);
    // The tile alone decides, so a sequence gets the same kernel in any batch.
    if (two_pass_fits(rows, two_pass_span(lo, hi, c->block_size))) sw_attn_two_pass_avx512(c, ith, s, kvh, t0, t1, lo, hi);
    else attn_task_avx512(c, s, kvh, t0, t1);
}
#endif
