// Paged attention kernels (decode and chunked prefill) over the blocks sw_kv_cache.c writes.
#include "sw_attention.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "sw_kv_layout.h"
#include "sw_simd.h"

// ---------------------------------------------------------------------------------------------
// Paged attention. Work is split into tasks of (sequence, kv head, tile of query tokens); a tile's
// rows are every query head of the group for each of its tokens, so each K/V block is converted
// once and reused by all of them. Softmax is computed online (running max and sum per row).

enum { SW_Q_TILE = 16, SW_MAX_ROWS = 128, SW_MAX_HEAD_DIM = 256, SW_CHUNK = 16 };
// The two-pass kernel takes tiles of at most SW_TWO_PASS_ROWS rows and SW_SCORES scores per thread.
enum { SW_TWO_PASS_ROWS = 16, SW_SCORES = 16 * 8192 };

// A unit of work: a tile of one sequence's query tokens against one kv head (-1: every kv head).
typedef struct {
    int64_t cost;
    int32_t seq, tile, head;
} attn_task;

static int task_cmp(const void *a, const void *b) {
    const int64_t x = ((const attn_task *)a)->cost, y = ((const attn_task *)b)->cost;
    return x < y ? 1 : x > y ? -1 : 0;
}

typedef struct {
    const float *q; size_t q_stride; float *out; size_t out_stride;
    const void *k_cache, *v_cache; int dtype;
    int num_heads, num_kv_heads, head_dim, block_size;
    const sw_attn_batch *batch; float scale; int window;
    int q_tile;
    size_t head_bytes;        // bytes of one kv head's block (sw_kv_head_block_bytes)
    int num_tasks;
    const attn_task *tasks;
    // int8 caches: each query head rounded to int8 (q then holds the rounded values as floats):
    // its values, scale and sum, indexed by token * num_heads + head.
    const int8_t *q8; const float *q8_scale; const int32_t *q8_sum;
    float *scores;            // per-thread score rows for the two-pass kernel (NULL: online kernel only)
    size_t scores_per_thread;
    _Atomic int next;
} attn_ctx;

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

#if defined(__x86_64__)

// Blocks of a sequence sit anywhere in the cache, so hardware prefetchers cannot see the next one
// coming; ask for it explicitly while the current one is being used.
static inline void prefetch_block(const void *cache, size_t off, size_t bytes) {
    const char *p = (const char *)cache + off;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

// Keys o..o+n-1 (n <= 16) of the head at byte offset `off`, as fp32 rows kt[d][16].
SW_AVX512 static inline void load_k_chunk(const attn_ctx *c, size_t off, int o, int n, float *kt) {
    const int hd = c->head_dim, bs = c->block_size;
    const char *head = (const char *)c->k_cache + off;
    if (c->dtype == SW_KV_BF16) {
        const uint16_t *kb = (const uint16_t *)head + (size_t)o * 2;
        const __mmask32 m = n >= 16 ? 0xffffffffu : (__mmask32)((1u << (2 * n)) - 1);
        const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
        for (int p = 0; p < hd / 2; p++) {
            const __m512i x = _mm512_maskz_loadu_epi16(m, kb + (size_t)p * bs * 2);
            _mm512_store_ps(kt + 2 * p * 16, _mm512_castsi512_ps(_mm512_slli_epi32(x, 16)));
            _mm512_store_ps(kt + (2 * p + 1) * 16, _mm512_castsi512_ps(_mm512_and_si512(x, hi)));
        }
        return;
    }
    const __mmask16 m = (__mmask16)((1u << n) - 1);
    if (c->dtype == SW_KV_I8) {
        // A dword holds 4 dims of one key, each byte offset by 128 (see k_index).
        const __m512 sc = _mm512_maskz_loadu_ps(m, (const float *)(head + (size_t)hd * bs) + o);
        const __m512i ff = _mm512_set1_epi32(0xff), b128 = _mm512_set1_epi32(128);
        for (int g = 0; g < hd / 4; g++) {
            const __m512i x = _mm512_maskz_loadu_epi32(m, head + ((size_t)g * bs + o) * 4);
            for (int j = 0; j < 4; j++) {
                const __m512i v = _mm512_sub_epi32(_mm512_and_si512(_mm512_srli_epi32(x, 8 * j), ff), b128);
                _mm512_store_ps(kt + (4 * g + j) * 16, _mm512_mul_ps(_mm512_cvtepi32_ps(v), sc));
            }
        }
        return;
    }
    for (int d = 0; d < hd; d++) _mm512_store_ps(kt + d * 16, _mm512_maskz_loadu_ps(m, (const float *)head + (size_t)d * bs + o));
}

// Dims d0..d0+15 (d0 a multiple of 16) of value t of the head at byte offset `off`.
SW_AVX512 static inline __m512 load_v16(const attn_ctx *c, size_t off, int t, int d0) {
    const int hd = c->head_dim;
    const char *head = (const char *)c->v_cache + off;
    if (c->dtype == SW_KV_BF16) {
        const __m512i x = _mm512_loadu_si512((const uint16_t *)head + (size_t)t * hd + (d0 & ~31));
        return _mm512_castsi512_ps((d0 & 16) ? _mm512_and_si512(x, _mm512_set1_epi32((int)0xffff0000u)) : _mm512_slli_epi32(x, 16));
    }
    if (c->dtype == SW_KV_I8) {
        const __m128i x = _mm_loadu_si128((const __m128i *)((const int8_t *)head + (size_t)t * hd + d0));
        return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(x)), _mm512_set1_ps(i8_scale(head, t, hd, c->block_size)));
    }
    return _mm512_loadu_ps((const float *)head + (size_t)t * hd + d0);
}

// Which of the 16 keys from position `first` (of those in `valid`) a row at position `pos` sees:
// none past itself, and only those inside the sliding window.
SW_AVX512 static inline __mmask16 visible_keys(const attn_ctx *c, int first, __mmask16 valid, int pos) {
    const __m512 keypos = _mm512_add_ps(_mm512_set_ps(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                        _mm512_set1_ps((float)first));
    __mmask16 ok = valid & _mm512_cmp_ps_mask(keypos, _mm512_set1_ps((float)pos), _CMP_LE_OQ);
    if (c->window > 0) ok &= _mm512_cmp_ps_mask(keypos, _mm512_set1_ps((float)(pos - c->window)), _CMP_GT_OQ);
    return ok;
}

// Scores of one query row against the 16 keys of a transposed chunk kt ([d][16]): broadcasting
// q[d] against K rows needs no horizontal sums. Eight independent sums, because one chain of
// dependent FMAs would leave the FMA units waiting on latency (head_dim is a multiple of 16).
SW_AVX512 static inline __m512 qk_chunk16(const float *qr, const float *kt, int hd) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    for (int d = 0; d < hd; d += 8) {
        s0 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d]), _mm512_load_ps(kt + d * 16), s0);
        s1 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d + 1]), _mm512_load_ps(kt + (d + 1) * 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d + 2]), _mm512_load_ps(kt + (d + 2) * 16), s2);
        s3 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d + 3]), _mm512_load_ps(kt + (d + 3) * 16), s3);
        s4 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d + 4]), _mm512_load_ps(kt + (d + 4) * 16), s4);
        s5 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d + 5]), _mm512_load_ps(kt + (d + 5) * 16), s5);
        s6 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d + 6]), _mm512_load_ps(kt + (d + 6) * 16), s6);
        s7 = _mm512_fmadd_ps(_mm512_set1_ps(qr[d + 7]), _mm512_load_ps(kt + (d + 7) * 16), s7);
    }
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                         _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7)));
}

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
            runs[nr++] = (key_run){base, o, bs - o < SW_CHUNK ? bs - o : SW_CHUNK, first};
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
#endif

#if defined(__x86_64__)

// Decode attention waits on memory latency more than on bandwidth: a sequence's blocks are
// scattered, so the hardware prefetchers cannot run ahead. Passes 1 and 2 prefetch the block
// SW_PF_BLOCKS ahead of the one they work on, a line at a time spread over the work: pass 1 runs
// through the keys and on into the first values, pass 2 through the values.
enum { SW_PF_BLOCKS = 3 };

// The block `ahead` blocks past block i (counted from base_key) of a pass over nblk blocks: keys
// first, then values when keys_then_values is set; NULL past the end.
static inline const char *pf_block(const attn_ctx *c, const int32_t *table, int base_block, int kvh, int i, int nblk, int keys_then_values) {
    int j = i + SW_PF_BLOCKS;
    if (keys_then_values) {
        if (j < nblk) return (const char *)c->k_cache + head_off(c, table[base_block + j], kvh);
        j -= nblk;
    }
    return j < nblk ? (const char *)c->v_cache + head_off(c, table[base_block + j], kvh) : NULL;
}

// Masked scores of one 16-key chunk for every row: keys past the row's position or outside the
// window get -inf; `mul` scales the accumulated dot products (per key for int8 caches).
SW_AVX512 static inline __attribute__((always_inline)) void store_chunk_scores(
    const attn_ctx *c, const int rows, __m512 acc[][4], int first, __mmask16 valid, const int *pos,
    __m512 mul, float *scores, int span, int base_key) {
    for (int r = 0; r < rows; r++) {
        const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]), _mm512_add_ps(acc[r][2], acc[r][3]));
        const __mmask16 ok = visible_keys(c, first, valid, pos[r]);
        _mm512_storeu_ps(scores + (size_t)r * span + (first - base_key),
                         _mm512_mask_blend_ps(ok, _mm512_set1_ps(-INFINITY), _mm512_mul_ps(sum, mul)));
    }
}

// Pass 1 of the two-pass kernel for a bf16 cache (head_dim a multiple of 32) and at most 4 rows:
// each 64-byte load is two dims of 16 keys (see k_index), multiplied from registers into every
// row's scores. The next block is prefetched a line per load, spread over the work, because a
// burst of prefetches stalls on the line fill buffers.
SW_AVX512 static inline __attribute__((always_inline)) void qk_bf16(
    const attn_ctx *c, const int rows, int s, int kvh, int base_key, int hi, int span,
    const float *const *qrow, const int *pos, float *scores) {
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, np = hd / 2;
    const int32_t *table = b->block_tables + (size_t)s * b->max_blocks_per_seq;
    const size_t block_lines = c->head_bytes / 64;
    const char *K = (const char *)c->k_cache;
    const __m512i himask = _mm512_set1_epi32((int)0xffff0000u);
    const __m512 scale = _mm512_set1_ps(c->scale);
    for (int kp = base_key; kp <= hi; kp += bs) {
        const uint16_t *kb = (const uint16_t *)(K + head_off(c, table[kp / bs], kvh));
        // The next block of keys; from the last one, the first block of values.
        const char *pf = pf_block(c, table, base_key / bs, kvh, (kp - base_key) / bs, (hi - base_key) / bs + 1, 1);
        for (int o = 0; o < bs; o += 16) {
            const int first = kp + o;
            if (first > hi) break;
            const int n = bs - o < 16 ? bs - o : 16;
            const __mmask32 m = n >= 16 ? 0xffffffffu : (__mmask32)((1u << (2 * n)) - 1);
            const uint16_t *kc = kb + (size_t)o * 2;
            __m512 acc[4][4];
            for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();
            for (int p = 0; p < np; p += 2) {
                const size_t li = (size_t)(o / 16) * np + p;
                if (pf && li < block_lines) _mm_prefetch(pf + li * 64, _MM_HINT_T0);
                if (pf && li + 1 < block_lines) _mm_prefetch(pf + li * 64 + 64, _MM_HINT_T0);
                const __m512i x0 = _mm512_maskz_loadu_epi16(m, kc + (size_t)p * bs * 2);
                const __m512i x1 = _mm512_maskz_loadu_epi16(m, kc + (size_t)(p + 1) * bs * 2);
                const __m512 k0 = _mm512_castsi512_ps(_mm512_slli_epi32(x0, 16));
                const __m512 k1 = _mm512_castsi512_ps(_mm512_and_si512(x0, himask));
                const __m512 k2 = _mm512_castsi512_ps(_mm512_slli_epi32(x1, 16));
                const __m512 k3 = _mm512_castsi512_ps(_mm512_and_si512(x1, himask));
                for (int r = 0; r < rows; r++) {
                    const float *q = qrow[r] + 2 * p;
                    acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(q[0]), k0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(_mm512_set1_ps(q[1]), k1, acc[r][1]);
                    acc[r][2] = _mm512_fmadd_ps(_mm512_set1_ps(q[2]), k2, acc[r][2]);
                    acc[r][3] = _mm512_fmadd_ps(_mm512_set1_ps(q[3]), k3, acc[r][3]);
                }
            }
            store_chunk_scores(c, rows, acc, first, (__mmask16)((1u << n) - 1), pos, scale, scores, span, base_key);
        }
    }
}

// Pass 1 for an int8 cache (head_dim a multiple of 32) and at most 4 rows: integer dot products
// of the int8-rounded queries with 16 keys x 4 dims per vpdpbusd (see k_index: the keys are the
// unsigned operand, offset by 128, which -128 * sum(q) takes back out); then one conversion and
// the query's, key's and softmax scales per 16 scores.
#define SW_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,avx512vnni")))
SW_AVX512_VNNI static inline __attribute__((always_inline)) void qk_i8(
    const attn_ctx *c, const int rows, int s, int kvh, int base_key, int hi, int span,
    const float *const *qrow, const int *pos, float *scores) {
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, ng = hd / 4;
    const int32_t *table = b->block_tables + (size_t)s * b->max_blocks_per_seq;
    const size_t block_lines = (c->head_bytes + 63) / 64;
    const char *K = (const char *)c->k_cache;
    const int8_t *qw[4];
    __m512i qoff[4];
    __m512 qmul[4];
    for (int r = 0; r < rows; r++) {
        // Rounded query rows are num_heads * hd floats per token, so this is token * heads + head.
        const size_t idx = (size_t)(qrow[r] - c->q) / (size_t)hd;
        qw[r] = c->q8 + idx * hd;
        qoff[r] = _mm512_set1_epi32(-128 * c->q8_sum[idx]);
        qmul[r] = _mm512_set1_ps(c->q8_scale[idx] * c->scale);
    }
    for (int kp = base_key; kp <= hi; kp += bs) {
        const char *head = K + head_off(c, table[kp / bs], kvh);
        const char *pf = pf_block(c, table, base_key / bs, kvh, (kp - base_key) / bs, (hi - base_key) / bs + 1, 1);
        for (int o = 0; o < bs; o += 16) {
            const int first = kp + o;
            if (first > hi) break;
            const int n = bs - o < 16 ? bs - o : 16;
            const __mmask16 m = (__mmask16)((1u << n) - 1);
            __m512i acc[4][2];
            for (int r = 0; r < rows; r++) {
                acc[r][0] = qoff[r];
                acc[r][1] = _mm512_setzero_si512();
            }
            for (int g = 0; g < ng; g += 2) {
                const size_t li = (size_t)(o / 16) * ng + g;
                if (pf && li < block_lines) _mm_prefetch(pf + li * 64, _MM_HINT_T0);
                if (pf && li + 1 < block_lines) _mm_prefetch(pf + li * 64 + 64, _MM_HINT_T0);
                // The scales after the values.
                if (pf && li == 0) _mm_prefetch(pf + (size_t)hd * bs, _MM_HINT_T0);
                const __m512i k0 = _mm512_maskz_loadu_epi32(m, head + ((size_t)g * bs + o) * 4);
                const __m512i k1 = _mm512_maskz_loadu_epi32(m, head + ((size_t)(g + 1) * bs + o) * 4);
                for (int r = 0; r < rows; r++) {
                    // Query dims 4g..4g+7 as two dwords of 4 bytes.
                    int32_t q0, q1;
                    memcpy(&q0, qw[r] + 4 * g, 4);
                    memcpy(&q1, qw[r] + 4 * g + 4, 4);
                    acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], k0, _mm512_set1_epi32(q0));
                    acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], k1, _mm512_set1_epi32(q1));
                }
            }
            __m512 f[4][4];
            for (int r = 0; r < rows; r++) {
                f[r][0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc[r][0], acc[r][1])), qmul[r]);
                f[r][1] = f[r][2] = f[r][3] = _mm512_setzero_ps();
            }
            const __m512 ks = _mm512_maskz_loadu_ps(m, (const float *)(head + (size_t)hd * bs) + o);
            store_chunk_scores(c, rows, f, first, m, pos, ks, scores, span, base_key);
        }
    }
}

// qk_i8 for a run-time row count (1-4), compiled for VNNI on its own so that the callers need
// only AVX-512F.
SW_AVX512_VNNI static void qk_i8_rows(const attn_ctx *c, int rows, int s, int kvh, int base_key, int hi, int span,
                                      const float *const *qrow, const int *pos, float *scores) {
    switch (rows) {
        case 1: qk_i8(c, 1, s, kvh, base_key, hi, span, qrow, pos, scores); break;
        case 2: qk_i8(c, 2, s, kvh, base_key, hi, span, qrow, pos, scores); break;
        case 3: qk_i8(c, 3, s, kvh, base_key, hi, span, qrow, pos, scores); break;
        default: qk_i8(c, 4, s, kvh, base_key, hi, span, qrow, pos, scores); break;
    }
}

static int has_vnni(void) {
    static int has = -1;
    if (has < 0) has = __builtin_cpu_supports("avx512vnni") ? 1 : 0;
    return has;
}

// Dims d..d+31 of the V row at element `row` (d a multiple of 32): for bf16 one 64-byte load (see
// v_index), for fp32 two.
SW_AVX512 static inline __attribute__((always_inline)) void load_v32(const attn_ctx *c, size_t off, int t, int d, __m512 *lo, __m512 *hi) {
    const char *head = (const char *)c->v_cache + off;
    const size_t row = (size_t)t * c->head_dim + d;
    if (c->dtype == SW_KV_BF16) {
        const __m512i x = _mm512_loadu_si512((const uint16_t *)head + row);
        *lo = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
        *hi = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32((int)0xffff0000u)));
    } else if (c->dtype == SW_KV_I8) {
        // Unscaled: pv_rows has folded each value's scale into its weight.
        const __m256i x = _mm256_loadu_si256((const __m256i *)((const int8_t *)head + row));
        *lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(x)));
        *hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(x, 1)));
    } else {
        *lo = _mm512_loadu_ps((const float *)head + row);
        *hi = _mm512_loadu_ps((const float *)head + row + 16);
    }
}

// Pass 2 of the two-pass kernel for head_dim a multiple of 32 and at most 4 rows, 64 dims at a
// time: each V row is loaded once for every row, and rows x 4 accumulators stay in registers.
SW_AVX512 static inline __attribute__((always_inline)) void pv_rows(
    const attn_ctx *c, const int rows, int s, int kvh, int t0, int base_key, int hi, int span,
    float *scores, const float *inv) {
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, G = c->num_heads / c->num_kv_heads;
    const int32_t *table = b->block_tables + (size_t)s * b->max_blocks_per_seq;
    const size_t elem = c->dtype == SW_KV_BF16 ? 2 : c->dtype == SW_KV_I8 ? 1 : 4;
    const int row_lines = (int)((hd * elem + 63) / 64);
    for (int ds = 0; ds < hd; ds += 64) {
        const int two = hd - ds >= 64;
        __m512 acc[4][4];
        for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();
        for (int kp = base_key; kp <= hi; kp += bs) {
            const size_t vb = head_off(c, table[kp / bs], kvh);
            const char *pf = ds == 0 ? pf_block(c, table, base_key / bs, kvh, (kp - base_key) / bs, (hi - base_key) / bs + 1, 0) : NULL;
            const int n = hi - kp + 1 < bs ? hi - kp + 1 : bs;
            float *pk = scores + (kp - base_key);
            if (ds == 0 && c->dtype == SW_KV_I8) {
                // Fold each value's scale into its weights once, so the loads below stay plain int8.
                const char *head = (const char *)c->v_cache + vb;
                for (int r = 0; r < rows; r++)
                    for (int t = 0; t < n; t++) pk[(size_t)r * span + t] *= i8_scale(head, t, hd, bs);
            }
            if (pf && c->dtype == SW_KV_I8) _mm_prefetch(pf + (size_t)hd * bs, _MM_HINT_T0);
            for (int t = 0; t < n; t++) {
                if (pf)
                    for (int j = 0; j < row_lines; j++) _mm_prefetch(pf + ((size_t)t * row_lines + j) * 64, _MM_HINT_T0);
                __m512 v0, v1;
                load_v32(c, vb, t, ds, &v0, &v1);
                if (two) {
                    __m512 v2, v3;
                    load_v32(c, vb, t, ds + 32, &v2, &v3);
                    for (int r = 0; r < rows; r++) {
                        const __m512 p = _mm512_set1_ps(pk[(size_t)r * span + t]);
                        acc[r][0] = _mm512_fmadd_ps(p, v0, acc[r][0]);
                        acc[r][1] = _mm512_fmadd_ps(p, v1, acc[r][1]);
                        acc[r][2] = _mm512_fmadd_ps(p, v2, acc[r][2]);
                        acc[r][3] = _mm512_fmadd_ps(p, v3, acc[r][3]);
                    }
                } else {
                    for (int r = 0; r < rows; r++) {
                        const __m512 p = _mm512_set1_ps(pk[(size_t)r * span + t]);
                        acc[r][0] = _mm512_fmadd_ps(p, v0, acc[r][0]);
                        acc[r][1] = _mm512_fmadd_ps(p, v1, acc[r][1]);
                    }
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            const int tok = t0 + r / G, head = kvh * G + r % G;
            float *orow = c->out + (size_t)(b->query_start[s] + tok) * c->out_stride + (size_t)head * hd + ds;
            const __m512 iv = _mm512_set1_ps(inv[r]);
            _mm512_storeu_ps(orow, _mm512_mul_ps(acc[r][0], iv));
            _mm512_storeu_ps(orow + 16, _mm512_mul_ps(acc[r][1], iv));
            if (two) {
                _mm512_storeu_ps(orow + 32, _mm512_mul_ps(acc[r][2], iv));
                _mm512_storeu_ps(orow + 48, _mm512_mul_ps(acc[r][3], iv));
            }
        }
    }
}

// Few query rows (decode): scores of the whole context first, then one softmax per row, then a
// pass over V that keeps every row's output in registers. Unlike the online softmax, no step
// waits on a per-chunk max/sum reduction, so the loads stream. Needs rows * keys <= SW_SCORES.
SW_AVX512 static void attn_task_two_pass(const attn_ctx *c, int ith, int s, int kvh, int t0, int t1, int lo, int hi) {
    float *scores = c->scores + (size_t)ith * c->scores_per_thread;
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, G = c->num_heads / c->num_kv_heads;
    const int qlen = b->query_start[s + 1] - b->query_start[s];
    const int rows = (t1 - t0) * G, nv = hd / 16;
    // Scores of keys base_key..hi; rows are padded to whole vectors plus one spare vector, because
    // chunks of small blocks store 16 lanes from any offset.
    const int base_key = lo - lo % bs, valid = hi - base_key + 1, span = (valid + 15) / 16 * 16 + 16;
    const int32_t *table = b->block_tables + (size_t)s * b->max_blocks_per_seq;
    const float *qrow[SW_TWO_PASS_ROWS];
    int pos[SW_TWO_PASS_ROWS];
    for (int r = 0; r < rows; r++) {
        pos[r] = b->context_len[s] - qlen + t0 + r / G;
        qrow[r] = c->q + (size_t)(b->query_start[s] + t0 + r / G) * c->q_stride + (size_t)(kvh * G + r % G) * hd;
    }
    float kt[SW_MAX_HEAD_DIM * SW_CHUNK] __attribute__((aligned(64)));
    // A bf16 or int8 cache with few rows: straight from the cache into registers. A compile-time row
    // count keeps the accumulators in registers (a run-time one makes the compiler index them
    // through the stack, a store-forwarding chain per FMA).
    const int direct = (c->dtype == SW_KV_BF16 || (c->dtype == SW_KV_I8 && has_vnni())) && hd % 32 == 0 && rows <= 4;
    if (direct && c->dtype == SW_KV_BF16) {
        switch (rows) {
            case 1: qk_bf16(c, 1, s, kvh, base_key, hi, span, qrow, pos, scores); break;
            case 2: qk_bf16(c, 2, s, kvh, base_key, hi, span, qrow, pos, scores); break;
            case 3: qk_bf16(c, 3, s, kvh, base_key, hi, span, qrow, pos, scores); break;
            default: qk_bf16(c, 4, s, kvh, base_key, hi, span, qrow, pos, scores); break;
        }
    } else if (direct) {
        qk_i8_rows(c, rows, s, kvh, base_key, hi, span, qrow, pos, scores);
    }
    // Pass 1 otherwise: masked, scaled scores through fp32 copies of each chunk of keys.
    if (!direct) for (int kp = base_key; kp <= hi; kp += bs) {
        const size_t blk = head_off(c, table[kp / bs], kvh);
        if (kp + bs <= hi) prefetch_block(c->k_cache, head_off(c, table[kp / bs + 1], kvh), c->head_bytes);
        else prefetch_block(c->v_cache, head_off(c, table[base_key / bs], kvh), c->head_bytes);
        for (int o = 0; o < bs; o += SW_CHUNK) {
            const int first = kp + o;
            if (first > hi) break;
            const int n = bs - o < SW_CHUNK ? bs - o : SW_CHUNK;
            const __mmask16 mask = (__mmask16)((1u << n) - 1);
            load_k_chunk(c, blk, o, n, kt);
            for (int r = 0; r < rows; r++) {
                const __m512 sum = qk_chunk16(qrow[r], kt, hd);
                const __mmask16 ok = visible_keys(c, first, mask, pos[r]);
                __m512 sc = _mm512_mask_blend_ps(ok, _mm512_set1_ps(-INFINITY), _mm512_mul_ps(sum, _mm512_set1_ps(c->scale)));
                _mm512_storeu_ps(scores + (size_t)r * span + (first - base_key), sc);
            }
        }
    }
    // Softmax per row (unnormalised weights; the sum divides at the end).
    float inv[SW_TWO_PASS_ROWS];
    for (int r = 0; r < rows; r++) {
        float *sr = scores + (size_t)r * span;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        const __m512 ninf = _mm512_set1_ps(-INFINITY);
        for (int i = 0; i < valid; i += 16) {
            const __mmask16 in = valid - i >= 16 ? 0xffff : (__mmask16)((1u << (valid - i)) - 1);
            mx = _mm512_max_ps(mx, _mm512_mask_loadu_ps(ninf, in, sr + i));
        }
        const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sum = _mm512_setzero_ps();
        for (int i = 0; i < valid; i += 16) {
            const __mmask16 in = valid - i >= 16 ? 0xffff : (__mmask16)((1u << (valid - i)) - 1);
            __m512 x = _mm512_mask_loadu_ps(ninf, in, sr + i);
            __mmask16 live = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ);
            __m512 e = _mm512_maskz_mov_ps(live, sw_exp512(_mm512_sub_ps(x, m)));
            _mm512_storeu_ps(sr + i, e);
            sum = _mm512_add_ps(sum, e);
        }
        float z = _mm512_reduce_add_ps(sum);
        inv[r] = z > 0 ? 1.0f / z : 0;
    }
    // Pass 2: weighted sum of V rows.
    if (hd % 32 == 0 && rows <= 4) {
        switch (rows) {
            case 1: pv_rows(c, 1, s, kvh, t0, base_key, hi, span, scores, inv); break;
            case 2: pv_rows(c, 2, s, kvh, t0, base_key, hi, span, scores, inv); break;
            case 3: pv_rows(c, 3, s, kvh, t0, base_key, hi, span, scores, inv); break;
            default: pv_rows(c, 4, s, kvh, t0, base_key, hi, span, scores, inv); break;
        }
        return;
    }
    for (int v0 = 0; v0 < nv; v0 += 4) {
        const int nvv = nv - v0 < 4 ? nv - v0 : 4;
        for (int r = 0; r < rows; r++) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            const float *pr = scores + (size_t)r * span;
            for (int kp = base_key; kp <= hi; kp += bs) {
                const size_t blk = head_off(c, table[kp / bs], kvh);
                const int n = hi - kp + 1 < bs ? hi - kp + 1 : bs;
                const float *pk = pr + (kp - base_key);
                int t = 0;
                for (; t + 2 <= n; t += 2) {
                    const __m512 p0 = _mm512_set1_ps(pk[t]), p1 = _mm512_set1_ps(pk[t + 1]);
                    a0 = _mm512_fmadd_ps(p0, load_v16(c, blk, t, v0 * 16), a0);
                    b0 = _mm512_fmadd_ps(p1, load_v16(c, blk, t + 1, v0 * 16), b0);
                    if (nvv > 1) { a1 = _mm512_fmadd_ps(p0, load_v16(c, blk, t, v0 * 16 + 16), a1); b1 = _mm512_fmadd_ps(p1, load_v16(c, blk, t + 1, v0 * 16 + 16), b1); }
                    if (nvv > 2) { a2 = _mm512_fmadd_ps(p0, load_v16(c, blk, t, v0 * 16 + 32), a2); b2 = _mm512_fmadd_ps(p1, load_v16(c, blk, t + 1, v0 * 16 + 32), b2); }
                    if (nvv > 3) { a3 = _mm512_fmadd_ps(p0, load_v16(c, blk, t, v0 * 16 + 48), a3); b3 = _mm512_fmadd_ps(p1, load_v16(c, blk, t + 1, v0 * 16 + 48), b3); }
                }
                for (; t < n; t++) {
                    const __m512 p0 = _mm512_set1_ps(pk[t]);
                    a0 = _mm512_fmadd_ps(p0, load_v16(c, blk, t, v0 * 16), a0);
                    if (nvv > 1) a1 = _mm512_fmadd_ps(p0, load_v16(c, blk, t, v0 * 16 + 16), a1);
                    if (nvv > 2) a2 = _mm512_fmadd_ps(p0, load_v16(c, blk, t, v0 * 16 + 32), a2);
                    if (nvv > 3) a3 = _mm512_fmadd_ps(p0, load_v16(c, blk, t, v0 * 16 + 48), a3);
                }
            }
            const int tok = t0 + r / G, head = kvh * G + r % G;
            float *orow = c->out + (size_t)(b->query_start[s] + tok) * c->out_stride + (size_t)head * hd + v0 * 16;
            const __m512 iv = _mm512_set1_ps(inv[r]);
            _mm512_storeu_ps(orow, _mm512_mul_ps(_mm512_add_ps(a0, b0), iv));
            if (nvv > 1) _mm512_storeu_ps(orow + 16, _mm512_mul_ps(_mm512_add_ps(a1, b1), iv));
            if (nvv > 2) _mm512_storeu_ps(orow + 32, _mm512_mul_ps(_mm512_add_ps(a2, b2), iv));
            if (nvv > 3) _mm512_storeu_ps(orow + 48, _mm512_mul_ps(_mm512_add_ps(a3, b3), iv));
        }
    }
}
#endif

static int use_avx512(int dtype, int head_dim, int rows) {
#if defined(__x86_64__)
    static int has = -1;
    if (has < 0) has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    return has && head_dim % (dtype == SW_KV_BF16 ? 32 : 16) == 0 && head_dim <= SW_MAX_HEAD_DIM && (head_dim <= 64 || rows > 0);
#else
    (void)dtype; (void)head_dim; (void)rows;
    return 0;
#endif
}

static void attn_worker(void *ctx, int ith, int nth) {
    (void)nth;
    attn_ctx *c = ctx;
#if defined(__x86_64__)
    // Flush subnormals: a peaked softmax gives weights near e^-87 whose products with V are
    // subnormal, and each such FMA takes a microcode assist (measured: 10x slower attention).
    // Their contribution is below 1e-38 of the largest weight.
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
#endif
    const int G = c->num_heads / c->num_kv_heads;
    for (;;) {
        int t = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
        if (t >= c->num_tasks) break;
        const attn_task *task = &c->tasks[t];
        const int s = task->seq, t0 = task->tile;
        const int h0 = task->head < 0 ? 0 : task->head, h1 = task->head < 0 ? c->num_kv_heads : h0 + 1;
        const int qlen = c->batch->query_start[s + 1] - c->batch->query_start[s];
        const int t1 = t0 + c->q_tile < qlen ? t0 + c->q_tile : qlen;
        for (int kvh = h0; kvh < h1; kvh++) {
#if defined(__x86_64__)
            if (use_avx512(c->dtype, c->head_dim, (t1 - t0) * G)) {
                const int rows = (t1 - t0) * G;
                int lo, hi;
                tile_range(c, s, t0, t1, &lo, &hi);
                const int span = (hi - (lo - lo % c->block_size) + 1 + 15) / 16 * 16 + 16;
                if (c->scores && rows <= SW_TWO_PASS_ROWS && (size_t)rows * span <= c->scores_per_thread) attn_task_two_pass(c, ith, s, kvh, t0, t1, lo, hi);
                else attn_task_avx512(c, s, kvh, t0, t1);
                continue;
            }
#endif
            attn_task_generic(c, s, kvh, t0, t1);
        }
    }
#if defined(__x86_64__)
    _mm_setcsr(csr);
#endif
}

void sw_paged_attention(sw_pool *pool, const float *q, size_t q_stride, float *out, size_t out_stride,
                        const void *k_cache, const void *v_cache, int dtype,
                        int num_heads, int num_kv_heads, int head_dim, int block_size,
                        const sw_attn_batch *batch, float scale, int sliding_window) {
    const int G = num_heads / num_kv_heads;
    int q_tile = SW_MAX_ROWS / G;
    if (q_tile > SW_Q_TILE) q_tile = SW_Q_TILE;
    if (q_tile < 1) q_tile = 1;
    // With many sequences, one with a single tile of few rows (decode) is one task over all of
    // its kv heads: the heads of a block lie side by side, so one thread then streams whole
    // blocks. Longer tiles, and the sequences of small batches, are split by kv head to spread
    // the work over the threads.
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
        .batch = batch, .scale = scale, .window = sliding_window, .q_tile = q_tile,
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
                q8_scale[row] = q8_round_any(q + t * q_stride + (size_t)h * head_dim, head_dim, q8 + row * head_dim,
                                             qr + row * head_dim, &q8_sum[row]);
            }
        c.q = qr;
        c.q_stride = (size_t)num_heads * head_dim;
        c.q8 = q8;
        c.q8_scale = q8_scale;
        c.q8_sum = q8_sum;
    }
    // Score rows for the two-pass (few-row) kernel, sized for the longest context of the batch.
    int longest = 0;
    for (int s = 0; s < batch->num_seqs; s++) if (batch->context_len[s] > longest) longest = batch->context_len[s];
    const size_t per_thread = (size_t)SW_TWO_PASS_ROWS * ((size_t)(longest + block_size + 15) / 16 * 16 + 16);
    c.scores = per_thread <= SW_SCORES ? aligned_alloc(64, per_thread * (n > 1 ? threads : 1) * sizeof(float)) : NULL;
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
