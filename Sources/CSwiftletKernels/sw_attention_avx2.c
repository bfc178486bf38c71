// AVX2 paged attention: one kernel for decode and prefill tiles. The keys of a tile are taken in
// steps of whole blocks (about A2_STEP keys); each step computes the masked scores of every row
// that sees one of its keys straight from the cache, then one online-softmax update per row, then
// the weighted values. Rows go four at a time, so each loaded K or V vector serves four rows, and a
// step's blocks stay in L1/L2 for the next four. With a short context (decode) the whole context
// is one step: two passes over the cache with no rescaling.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "sw_attention_impl.h"
#include "sw_kv_layout.h"
#include "sw_simd.h"

#if defined(__x86_64__)

// Keys per step: 128 keys of K and V (bf16, head_dim 64) fill half of L1 together.
enum { A2_STEP = 128, A2_PF_AHEAD = 2 };

static inline int step_blocks(int bs) { return A2_STEP / bs > 0 ? A2_STEP / bs : 1; }
// Floats per score row: a step's keys, whole vectors, plus one spare vector because chunks of
// small blocks store 8 lanes from any offset.
static inline int score_stride(int bs) { return (step_blocks(bs) * bs + 7) / 8 * 8 + 8; }

int sw_attn_avx2_fits(int dtype, int head_dim) {
    (void)dtype;
    return head_dim % 32 == 0 && head_dim <= SW_MAX_HEAD_DIM;
}

size_t sw_attn_avx2_scratch(int rows, int keys, int block_size, int head_dim) {
    (void)keys;
    return (size_t)rows * (size_t)(score_stride(block_size) + head_dim);
}

typedef struct {
    const attn_ctx *c;
    const int32_t *table;
    int kvh, b0, b1, last_block;  // this step's blocks [b0, b1) of the sequence; its last block
} step_span;

// The block to prefetch while working on block i of a step: keys run on into the step's values,
// values into the next step's keys.
static inline const char *pf_target(const step_span *st, int values, int i) {
    const attn_ctx *c = st->c;
    int j = i + A2_PF_AHEAD;
    if (!values) {
        if (j < st->b1) return (const char *)c->k_cache + head_off(c, st->table[j], st->kvh);
        j = st->b0 + (j - st->b1);
        return j < st->b1 ? (const char *)c->v_cache + head_off(c, st->table[j], st->kvh) : NULL;
    }
    if (j < st->b1) return (const char *)c->v_cache + head_off(c, st->table[j], st->kvh);
    return j <= st->last_block ? (const char *)c->k_cache + head_off(c, st->table[j], st->kvh) : NULL;
}

// Which of 8 keys from position `first` (the first n of them) a row at position pos sees.
SW_AVX2 static inline __m256 visible8(const attn_ctx *c, int first, int n, int pos) {
    const __m256i key = _mm256_add_epi32(_mm256_set1_epi32(first), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i ok = _mm256_andnot_si256(_mm256_cmpgt_epi32(key, _mm256_set1_epi32(pos)), sw_mask256(n));
    if (c->window > 0) ok = _mm256_and_si256(ok, _mm256_cmpgt_epi32(key, _mm256_set1_epi32(pos - c->window)));
    return _mm256_castsi256_ps(ok);
}

SW_AVX2 static inline void store_scores(const attn_ctx *c, __m256 sum, __m256 mul, int first, int n, int pos, float *dst) {
    const __m256 ok = visible8(c, first, n, pos);
    _mm256_storeu_ps(dst, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_mul_ps(sum, mul), ok));
}

// Dims 4i..4i+3 of 8 keys from offset o of a bf16 or fp32 head block (n < 8: the first n keys).
SW_AVX2 static inline __attribute__((always_inline)) void load_k4(const attn_ctx *c, const char *head, int o, int i, __m256i m,
                                                                  int masked, __m256 k[4]) {
    const int bs = c->block_size;
    if (c->dtype == SW_KV_BF16) {
        // A dword holds dims 2p and 2p+1 of one key (see k_index).
        const int *p0 = (const int *)head + (size_t)(2 * i) * bs + o, *p1 = p0 + bs;
        const __m256i x0 = masked ? _mm256_maskload_epi32(p0, m) : _mm256_loadu_si256((const __m256i *)p0);
        const __m256i x1 = masked ? _mm256_maskload_epi32(p1, m) : _mm256_loadu_si256((const __m256i *)p1);
        const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
        k[0] = _mm256_castsi256_ps(_mm256_slli_epi32(x0, 16));
        k[1] = _mm256_castsi256_ps(_mm256_and_si256(x0, hi));
        k[2] = _mm256_castsi256_ps(_mm256_slli_epi32(x1, 16));
        k[3] = _mm256_castsi256_ps(_mm256_and_si256(x1, hi));
        return;
    }
    for (int j = 0; j < 4; j++) {
        const float *p = (const float *)head + (size_t)(4 * i + j) * bs + o;
        k[j] = masked ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p);
    }
}

// Dims 2p and 2p+1 of 16 keys from offset o of a bf16 or fp32 head block: k[0], k[1] for keys
// o..o+7, k[2], k[3] for keys o+8..o+15.
SW_AVX2 static inline __attribute__((always_inline)) void load_k16(const attn_ctx *c, const char *head, int o, int p, __m256 k[4]) {
    const int bs = c->block_size;
    if (c->dtype == SW_KV_BF16) {
        const int *pp = (const int *)head + (size_t)p * bs + o;
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)pp), x1 = _mm256_loadu_si256((const __m256i *)(pp + 8));
        const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
        k[0] = _mm256_castsi256_ps(_mm256_slli_epi32(x0, 16));
        k[1] = _mm256_castsi256_ps(_mm256_and_si256(x0, hi));
        k[2] = _mm256_castsi256_ps(_mm256_slli_epi32(x1, 16));
        k[3] = _mm256_castsi256_ps(_mm256_and_si256(x1, hi));
        return;
    }
    const float *p0 = (const float *)head + (size_t)(2 * p) * bs + o, *p1 = p0 + bs;
    k[0] = _mm256_loadu_ps(p0);
    k[1] = _mm256_loadu_ps(p1);
    k[2] = _mm256_loadu_ps(p0 + 8);
    k[3] = _mm256_loadu_ps(p1 + 8);
}

// Masked, scaled scores of nr (<= 4) rows against the keys of one step, for a bf16 or fp32
// cache. Keys 16 at a time where the block has 16 left, so that each broadcast query element
// serves two FMAs (loads, not FMAs, bound the 8-key form), else 8 at a time. One or two rows keep
// four sums each so that the FMAs do not wait on each other's latency.
SW_AVX2 static inline __attribute__((always_inline)) void qk_fp(const step_span *st, const int nr, const float *const *q,
                                                               const int *pos, int k0, int hi, float *s, int sstride, int pf) {
    const attn_ctx *c = st->c;
    const int hd = c->head_dim, bs = c->block_size, nq = hd / 4, np = hd / 2;
    const size_t lines = c->head_bytes / 64;
    const __m256 scale = _mm256_set1_ps(c->scale);
    for (int b = st->b0; b < st->b1; b++) {
        const char *head = (const char *)c->k_cache + head_off(c, st->table[b], st->kvh);
        const char *pft = pf ? pf_target(st, 0, b) : NULL;
        for (int o = 0; o < bs;) {
            const int first = b * bs + o;
            if (first > hi) break;
            __m256 a[4][4];
            for (int r = 0; r < nr; r++) a[r][0] = a[r][1] = a[r][2] = a[r][3] = _mm256_setzero_ps();
            if (bs - o >= 16) {
                for (int p = 0; p < np; p++) {
                    const size_t li = (size_t)(o / 16) * np + p;
                    if (pft && li < lines) _mm_prefetch(pft + li * 64, _MM_HINT_T0);
                    __m256 k[4];
                    load_k16(c, head, o, p, k);
                    for (int r = 0; r < nr; r++) {
                        const __m256 q0 = _mm256_broadcast_ss(q[r] + 2 * p), q1 = _mm256_broadcast_ss(q[r] + 2 * p + 1);
                        if (nr <= 2) {
                            a[r][0] = _mm256_fmadd_ps(q0, k[0], a[r][0]);
                            a[r][1] = _mm256_fmadd_ps(q1, k[1], a[r][1]);
                            a[r][2] = _mm256_fmadd_ps(q0, k[2], a[r][2]);
                            a[r][3] = _mm256_fmadd_ps(q1, k[3], a[r][3]);
                        } else {
                            a[r][0] = _mm256_fmadd_ps(q1, k[1], _mm256_fmadd_ps(q0, k[0], a[r][0]));
                            a[r][1] = _mm256_fmadd_ps(q1, k[3], _mm256_fmadd_ps(q0, k[2], a[r][1]));
                        }
                    }
                }
                for (int r = 0; r < nr; r++) {
                    const __m256 lo = nr <= 2 ? _mm256_add_ps(a[r][0], a[r][1]) : a[r][0];
                    const __m256 hi8 = nr <= 2 ? _mm256_add_ps(a[r][2], a[r][3]) : a[r][1];
                    float *dst = s + (size_t)r * sstride + (first - k0);
                    store_scores(c, lo, scale, first, 8, pos[r], dst);
                    store_scores(c, hi8, scale, first + 8, 8, pos[r], dst + 8);
                }
                o += 16;
                continue;
            }
            const int n = bs - o < 8 ? bs - o : 8;
            const __m256i m = sw_mask256(n);
            for (int i = 0; i < nq; i++) {
                const size_t li = (size_t)(o / 8) * nq + i;
                if (pft && li < lines) _mm_prefetch(pft + li * 64, _MM_HINT_T0);
                __m256 k[4];
                load_k4(c, head, o, i, m, n < 8, k);
                for (int r = 0; r < nr; r++) {
                    const float *qr = q[r] + 4 * i;
                    if (nr <= 2) {
                        for (int j = 0; j < 4; j++) a[r][j] = _mm256_fmadd_ps(_mm256_broadcast_ss(qr + j), k[j], a[r][j]);
                    } else {
                        a[r][0] = _mm256_fmadd_ps(_mm256_broadcast_ss(qr), k[0], a[r][0]);
                        a[r][1] = _mm256_fmadd_ps(_mm256_broadcast_ss(qr + 1), k[1], a[r][1]);
                        a[r][0] = _mm256_fmadd_ps(_mm256_broadcast_ss(qr + 2), k[2], a[r][0]);
                        a[r][1] = _mm256_fmadd_ps(_mm256_broadcast_ss(qr + 3), k[3], a[r][1]);
                    }
                }
            }
            for (int r = 0; r < nr; r++) {
                __m256 sum = _mm256_add_ps(a[r][0], a[r][1]);
                if (nr <= 2) sum = _mm256_add_ps(sum, _mm256_add_ps(a[r][2], a[r][3]));
                store_scores(c, sum, scale, first, n, pos[r], s + (size_t)r * sstride + (first - k0));
            }
            o += 8;
        }
    }
}

// The same for an int8 cache: exact integer dot products of the int8-rounded queries with 16 (or
// 8) keys x 4 dims per step. Without VNNI, maddubs multiplies unsigned by signed bytes into
// saturating 16-bit pair sums; taking |q| as the unsigned side and the key with q's sign as the
// signed one keeps each pair within 2 * 127 * 127 (stored values are within +-127), so nothing
// saturates.
SW_AVX2 static inline __attribute__((always_inline)) void qk_i8(const step_span *st, const int nr, const float *const *q,
                                                               const int *pos, int k0, int hi, float *s, int sstride, int pf) {
    const attn_ctx *c = st->c;
    const int hd = c->head_dim, bs = c->block_size, ng = hd / 4;
    const size_t lines = (c->head_bytes + 63) / 64;
    int32_t qa[4][SW_MAX_HEAD_DIM / 4], qs[4][SW_MAX_HEAD_DIM / 4];
    __m256 mul[4];
    for (int r = 0; r < nr; r++) {
        // Rounded query rows are num_heads * hd floats per token, so this is token * heads + head.
        const size_t idx = (size_t)(q[r] - c->q) / (size_t)hd;
        const int8_t *w = c->q8 + idx * hd;
        for (int g = 0; g < ng; g++) {
            int8_t a[4];
            for (int j = 0; j < 4; j++) a[j] = (int8_t)(w[4 * g + j] < 0 ? -w[4 * g + j] : w[4 * g + j]);
            memcpy(&qa[r][g], a, 4);
            memcpy(&qs[r][g], w + 4 * g, 4);
        }
        mul[r] = _mm256_set1_ps(c->q8_scale[idx] * c->scale);
    }
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    for (int b = st->b0; b < st->b1; b++) {
        const char *head = (const char *)c->k_cache + head_off(c, st->table[b], st->kvh);
        const char *pft = pf ? pf_target(st, 0, b) : NULL;
        if (pft) _mm_prefetch(pft + (size_t)hd * bs, _MM_HINT_T0);  // the scales after the values
        for (int o = 0; o < bs;) {
            const int first = b * bs + o;
            if (first > hi) break;
            if (bs - o >= 16) {
                // 16 keys: each pair of query broadcasts serves two key vectors.
                __m256i a[4][2];
                for (int r = 0; r < nr; r++) a[r][0] = a[r][1] = _mm256_setzero_si256();
                for (int g = 0; g < ng; g++) {
                    const size_t li = (size_t)(o / 16) * ng + g;
                    if (pft && li < lines) _mm_prefetch(pft + li * 64, _MM_HINT_T0);
                    const __m256i *p = (const __m256i *)(head + ((size_t)g * bs + o) * 4);
                    const __m256i k0 = _mm256_xor_si256(_mm256_loadu_si256(p), flip), k1 = _mm256_xor_si256(_mm256_loadu_si256(p + 1), flip);
                    for (int r = 0; r < nr; r++) {
                        const __m256i qa_ = _mm256_set1_epi32(qa[r][g]), qs_ = _mm256_set1_epi32(qs[r][g]);
                        a[r][0] = _mm256_add_epi32(a[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(qa_, _mm256_sign_epi8(k0, qs_)), ones));
                        a[r][1] = _mm256_add_epi32(a[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(qa_, _mm256_sign_epi8(k1, qs_)), ones));
                    }
                }
                const float *ksp = (const float *)(head + (size_t)hd * bs) + o;
                const __m256 ks0 = _mm256_loadu_ps(ksp), ks1 = _mm256_loadu_ps(ksp + 8);
                for (int r = 0; r < nr; r++) {
                    float *dst = s + (size_t)r * sstride + (first - k0);
                    store_scores(c, _mm256_mul_ps(_mm256_cvtepi32_ps(a[r][0]), ks0), mul[r], first, 8, pos[r], dst);
                    store_scores(c, _mm256_mul_ps(_mm256_cvtepi32_ps(a[r][1]), ks1), mul[r], first + 8, 8, pos[r], dst + 8);
                }
                o += 16;
                continue;
            }
            const int n = bs - o < 8 ? bs - o : 8;
            const __m256i m = sw_mask256(n);
            __m256i a[4];
            for (int r = 0; r < nr; r++) a[r] = _mm256_setzero_si256();
            for (int g = 0; g < ng; g++) {
                const size_t li = (size_t)(o / 8) * ng / 2 + g / 2;
                if (pft && (g & 1) == 0 && li < lines) _mm_prefetch(pft + li * 64, _MM_HINT_T0);
                const int *p = (const int *)(head + ((size_t)g * bs + o) * 4);
                const __m256i kx = _mm256_xor_si256(n < 8 ? _mm256_maskload_epi32(p, m) : _mm256_loadu_si256((const __m256i *)p), flip);
                for (int r = 0; r < nr; r++) {
                    const __m256i t = _mm256_maddubs_epi16(_mm256_set1_epi32(qa[r][g]), _mm256_sign_epi8(kx, _mm256_set1_epi32(qs[r][g])));
                    a[r] = _mm256_add_epi32(a[r], _mm256_madd_epi16(t, ones));
                }
            }
            const __m256 ks = _mm256_maskload_ps((const float *)(head + (size_t)hd * bs) + o, m);
            for (int r = 0; r < nr; r++)
                store_scores(c, _mm256_mul_ps(_mm256_cvtepi32_ps(a[r]), ks), mul[r], first, n, pos[r], s + (size_t)r * sstride + (first - k0));
            o += 8;
        }
    }
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

// acc = acc * corr + weights x values of one step, for nr (<= 4) rows. Block by block, each
// block's rows taken whole (so that it is used up while in L1 and the prefetch distance counts
// in blocks), nu 16-dim units (1 or 2) at a time so that the sums of every row sit in registers.
SW_AVX2 static inline __attribute__((always_inline)) void pv(const step_span *st, const int nr, const int nu, float *p,
                                                            int sstride, int k0, int hi, const float *corr, float *acc, int pf) {
    const attn_ctx *c = st->c;
    const int hd = c->head_dim, bs = c->block_size;
    const size_t elem = c->dtype == SW_KV_BF16 ? 2 : c->dtype == SW_KV_I8 ? 1 : 4;
    const int row_lines = (int)((hd * elem + 63) / 64);
    for (int r = 0; r < nr; r++) {
        const __m256 cr = _mm256_set1_ps(corr[r]);
        for (int d = 0; d < hd; d += 8) _mm256_storeu_ps(acc + (size_t)r * hd + d, _mm256_mul_ps(_mm256_loadu_ps(acc + (size_t)r * hd + d), cr));
    }
    for (int b = st->b0; b < st->b1; b++) {
        const int kb = b * bs;
        if (kb > hi) break;
        const char *head = (const char *)c->v_cache + head_off(c, st->table[b], st->kvh);
        const char *pft = pf ? pf_target(st, 1, b) : NULL;
        if (pft && c->dtype == SW_KV_I8) _mm_prefetch(pft + (size_t)hd * bs, _MM_HINT_T0);
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
                    for (int j = 0; j < row_lines; j++) _mm_prefetch(pft + ((size_t)t * row_lines + j) * 64, _MM_HINT_T0);
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

// One group of nr rows: the scores of the step (or, with corr, the weighted values).
SW_AVX2 static inline __attribute__((always_inline)) void group_qk(const step_span *st, const int nr, const float *const *q,
                                                                  const int *pos, int k0, int hi, float *s, int sstride, int pf) {
    if (st->c->dtype == SW_KV_I8) qk_i8(st, nr, q, pos, k0, hi, s, sstride, pf);
    else qk_fp(st, nr, q, pos, k0, hi, s, sstride, pf);
}

SW_AVX2 static void qk_rows(const step_span *st, int nr, const float *const *q, const int *pos, int k0, int hi, float *s,
                            int sstride, int pf) {
    switch (nr) {
        case 1: group_qk(st, 1, q, pos, k0, hi, s, sstride, pf); break;
        case 2: group_qk(st, 2, q, pos, k0, hi, s, sstride, pf); break;
        case 3: group_qk(st, 3, q, pos, k0, hi, s, sstride, pf); break;
        default: group_qk(st, 4, q, pos, k0, hi, s, sstride, pf); break;
    }
}

SW_AVX2 static void pv_rows(const step_span *st, int nr, float *p, int sstride, int k0, int hi, const float *corr,
                            float *acc, int pf) {
    switch (nr) {
        case 1: pv(st, 1, 2, p, sstride, k0, hi, corr, acc, pf); break;
        case 2: pv(st, 2, 2, p, sstride, k0, hi, corr, acc, pf); break;
        case 3: pv(st, 3, 1, p, sstride, k0, hi, corr, acc, pf); break;
        default: pv(st, 4, 1, p, sstride, k0, hi, corr, acc, pf); break;
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

SW_AVX2 void sw_attn_task_avx2(const attn_ctx *c, int ith, int s, int kvh, int t0, int t1) {
    const sw_attn_batch *b = c->batch;
    const int hd = c->head_dim, bs = c->block_size, G = c->num_heads / c->num_kv_heads;
    const int qlen = b->query_start[s + 1] - b->query_start[s];
    const int rows = (t1 - t0) * G, sstride = score_stride(bs), sb = step_blocks(bs);
    float *scores = c->scores + (size_t)ith * c->scores_per_thread, *acc = scores + (size_t)rows * sstride;
    float m[SW_MAX_ROWS], l[SW_MAX_ROWS], corr[SW_MAX_ROWS];
    int pos[SW_MAX_ROWS];
    const float *qrow[SW_MAX_ROWS];
    for (int r = 0; r < rows; r++) {
        m[r] = -INFINITY;
        l[r] = 0;
        pos[r] = b->context_len[s] - qlen + t0 + r / G;
        qrow[r] = c->q + (size_t)(b->query_start[s] + t0 + r / G) * c->q_stride + (size_t)(kvh * G + r % G) * hd;
    }
    memset(acc, 0, (size_t)rows * hd * sizeof(float));
    int lo, hi;
    tile_range(c, s, t0, t1, &lo, &hi);
    step_span st = {c, b->block_tables + (size_t)s * b->max_blocks_per_seq, kvh, 0, 0, hi / bs};
    for (int b0 = lo / bs; b0 <= hi / bs; b0 += sb) {
        st.b0 = b0;
        st.b1 = b0 + sb <= st.last_block ? b0 + sb : st.last_block + 1;
        const int k0 = b0 * bs, klast = st.b1 * bs - 1 < hi ? st.b1 * bs - 1 : hi, nk = klast - k0 + 1;
        // Rows go by position: those that see a key of the step (at or after k0, and within their
        // window of klast) are a contiguous run.
        int ra = 0, rb = rows;
        while (ra < rows && pos[ra] < k0) ra++;
        if (c->window > 0)
            while (rb > ra && pos[rb - 1] - c->window + 1 > klast) rb--;
        for (int r = ra; r < rb; r += 4)
            qk_rows(&st, rb - r < 4 ? rb - r : 4, qrow + r, pos + r, k0, hi, scores + (size_t)r * sstride, sstride, r == ra);
        for (int r = ra; r < rb; r++) corr[r] = softmax_step(scores + (size_t)r * sstride, nk, &m[r], &l[r]);
        for (int r = ra; r < rb; r += 4)
            pv_rows(&st, rb - r < 4 ? rb - r : 4, scores + (size_t)r * sstride, sstride, k0, klast, corr + r, acc + (size_t)r * hd, r == ra);
    }
    for (int r = 0; r < rows; r++) {
        float *orow = c->out + (size_t)(b->query_start[s] + t0 + r / G) * c->out_stride + (size_t)(kvh * G + r % G) * hd;
        const __m256 inv = _mm256_set1_ps(l[r] > 0 ? 1.0f / l[r] : 0);
        for (int d = 0; d < hd; d += 8) _mm256_storeu_ps(orow + d, _mm256_mul_ps(_mm256_loadu_ps(acc + (size_t)r * hd + d), inv));
    }
}
#endif
