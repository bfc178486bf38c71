// The scores half of the AVX2 paged attention kernel (sw_attention_avx2.c): the step a task's keys
// are taken in, the prefetch schedule, and the masked, scaled scores of up to four rows against
// one cache block of keys, for bf16, fp32 and int8 caches. Internal header.
#pragma once
#include <math.h>
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

// Masked, scaled scores of nr (<= 4) rows against the keys of blocks [bb0, bb1) of a step, for a
// bf16 or fp32 cache. Keys 16 at a time where the block has 16 left, so that each broadcast query element
// serves two FMAs (loads, not FMAs, bound the 8-key form), else 8 at a time. One or two rows keep
// four sums each so that the FMAs do not wait on each other's latency.
SW_AVX2 static inline __attribute__((always_inline)) void qk_fp(const step_span *st, int bb0, int bb1, const int nr,
                                                               const float *const *q, const int *pos, int k0, int hi, float *s,
                                                               int sstride, int pf) {
    const attn_ctx *c = st->c;
    const int hd = c->head_dim, bs = c->block_size, nq = hd / 4, np = hd / 2;
    const size_t lines = c->head_bytes / 64;
    const __m256 scale = _mm256_set1_ps(c->scale);
    for (int b = bb0; b < bb1; b++) {
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
                    if (pft && li < lines) _mm_prefetch(pft + li * 64, SW_ATTN_PREFETCH);
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
                if (pft && li < lines) _mm_prefetch(pft + li * 64, SW_ATTN_PREFETCH);
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
SW_AVX2 static inline __attribute__((always_inline)) void qk_i8(const step_span *st, int bb0, int bb1, const int nr,
                                                               const float *const *q, const int *pos, int k0, int hi, float *s,
                                                               int sstride, int pf) {
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
    for (int b = bb0; b < bb1; b++) {
        const char *head = (const char *)c->k_cache + head_off(c, st->table[b], st->kvh);
        const char *pft = pf ? pf_target(st, 0, b) : NULL;
        if (pft) _mm_prefetch(pft + (size_t)hd * bs, SW_ATTN_PREFETCH);  // the scales after the values
        for (int o = 0; o < bs;) {
            const int first = b * bs + o;
            if (first > hi) break;
            if (bs - o >= 16) {
                // 16 keys: each pair of query broadcasts serves two key vectors.
                __m256i a[4][2];
                for (int r = 0; r < nr; r++) a[r][0] = a[r][1] = _mm256_setzero_si256();
                for (int g = 0; g < ng; g++) {
                    const size_t li = (size_t)(o / 16) * ng + g;
                    if (pft && li < lines) _mm_prefetch(pft + li * 64, SW_ATTN_PREFETCH);
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
                if (pft && (g & 1) == 0 && li < lines) _mm_prefetch(pft + li * 64, SW_ATTN_PREFETCH);
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

#endif
