// AVX-512 paged attention for few query rows (decode): two passes over the cache, scores then
// weighted values, with the int8 scores by VNNI.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sw_attention_avx512.h"

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
                if (pf && li < block_lines) _mm_prefetch(pf + li * 64, SW_ATTN_PREFETCH);
                if (pf && li + 1 < block_lines) _mm_prefetch(pf + li * 64 + 64, SW_ATTN_PREFETCH);
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
                if (pf && li < block_lines) _mm_prefetch(pf + li * 64, SW_ATTN_PREFETCH);
                if (pf && li + 1 < block_lines) _mm_prefetch(pf + li * 64 + 64, SW_ATTN_PREFETCH);
                // The scales after the values.
                if (pf && li == 0) _mm_prefetch(pf + (size_t)hd * bs, SW_ATTN_PREFETCH);
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
            if (pf && c->dtype == SW_KV_I8) _mm_prefetch(pf + (size_t)hd * bs, SW_ATTN_PREFETCH);
            for (int t = 0; t < n; t++) {
                if (pf)
                    for (int j = 0; j < row_lines; j++) _mm_prefetch(pf + ((size_t)t * row_lines + j) * 64, SW_ATTN_PREFETCH);
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
SW_AVX512 void sw_attn_two_pass_avx512(const attn_ctx *c, int ith, int s, int kvh, int t0, int t1, int lo, int hi) {
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
    const int direct = (c->dtype == SW_KV_BF16 || c->dtype == SW_KV_I8) && hd % 32 == 0 && rows <= 4;
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
