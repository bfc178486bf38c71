// Helpers shared by the two AVX-512 paged attention kernels (sw_attention_avx512.c, online softmax
// for prefill tiles; sw_attention_avx512_decode.c, two passes for decode). Internal header.
#pragma once
#include "sw_attention_impl.h"
#include "sw_kv_layout.h"
#include "sw_simd.h"

#if defined(__x86_64__)
// Blocks of a sequence sit anywhere in the cache, so hardware prefetchers cannot see the next one
// coming; ask for it explicitly while the current one is being used.
static inline void prefetch_block(const void *cache, size_t off, size_t bytes) {
    const char *p = (const char *)cache + off;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, SW_ATTN_PREFETCH);
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

// The two-pass kernel (sw_attention_avx512_decode.c) for a tile of at most SW_TWO_PASS_ROWS rows
// whose keys lo..hi fit thread ith's scratch.
void sw_attn_two_pass_avx512(const attn_ctx *c, int ith, int s, int kvh, int t0, int t1, int lo, int hi);
#endif
