// AVX2 (+FMA, F16C) kernels behind sw_quant.c, for x86 CPUs without AVX-512. Each function
// carries its own target attribute; they are only entered when the caller's level is AVX2.
#include "sw_quant.h"
#include "sw_quant_impl.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define SWT __attribute__((target("avx2,fma,f16c")))
#define SWTI SWT static inline __attribute__((always_inline))

// Quantized kernel geometry. The packed records (sw_quant.h) hold one weight row per dword
// lane, so each instruction below works on 8 rows at once, against activation bytes broadcast to
// every lane: the same vertical scheme as the VNNI kernel, in more instructions.
//   Q4: `vpmaddubsw` (u8 x s8 -> s16 pairs) of nibbles (0..15) and |x| <= 127 makes pairs of at
//       most 3,810, so the s16 pairs of all 8 groups of a block add up without saturating
//       (<= 30,480) and one `vpmaddwd` with ones per block widens them.
//   Q8_0: `vpmaddubsw` would saturate (the record's w + 128 reaches 255 * 127 * 2 per pair) or
//       need `vpsignb` per weight vector (|w| times x with w's sign); on Zen 4 vpsignb shares
//       the two multiply pipes, so that cost three multiply-pipe operations per 32 products.
//       Instead `vpmaddwd` multiplies int16: weights sign-extended from bytes (in the chunk
//       scratch, or from the record's w + 128 zero-extended in registers, corrected by
//       -128 * sum(x)), and the activations' int16 pairs (x[4g], x[4g + 2]) and
//       (x[4g + 1], x[4g + 3]), widened once per chunk and row. Two vpmaddwd and two adds per
//       32 products; all sums are exact, so the results are those of the old scheme.
// A register tile is the whole 32-row tile (4 ymm) by one activation row: 4 int sums, 4 float
// sums, the weights and broadcasts fit the 16 ymm registers without spills. Tiles over several
// activation rows (8 or 16 weight rows x 2-6 activation rows, and for Q8_0 32 rows x 2) measured
// no faster: the weight loads they save are not the limit, the multiply and add operations are.
// Records are widened per K chunk into scratch that every activation row reuses.
#define NR 32
#define NV 4       // ymm of 8 weight rows
#define KCB4 SWI_AVX2_KCB4  // most blocks per chunk (see swi_avx2_chunks)
#define KCB8 SWI_AVX2_KCB8
#define PB4 1280   // [8 g][32 rows] nibble dwords | 32 float d | 32 float m
#define PB8 2176   // [8 g]([32 rows] (w[4g], w[4g+2]) | [32 rows] (w[4g+1], w[4g+3])) int16 | 32 float d
// Activation rows up to which records are widened in registers rather than in scratch: widening
// Q8_0 to int16 costs about as much as a row's multiplies, so its scratch pays only from 5 rows.
#ifndef DIRECT_MAX_M
#define DIRECT_MAX_M 1
#endif
#ifndef DIRECT_MAX_M8
#define DIRECT_MAX_M8 4
#endif

static inline int32_t load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

SWTI void widen_q4(const uint8_t *rec, int has_m, uint8_t *dst) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
#pragma clang loop unroll(full)
    for (int j = 0; j < 16; j++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(rec + j * 32));
        const int g = j >> 2, o = (j & 3) * 32;
        _mm256_store_si256((__m256i *)(dst + g * 128 + o), _mm256_and_si256(v, m4));
        _mm256_store_si256((__m256i *)(dst + (g + 4) * 128 + o), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) {
        _mm256_store_ps((float *)(dst + 1024 + j * 32), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(rec + 512 + j * 16))));
        if (has_m)
            _mm256_store_ps((float *)(dst + 1152 + j * 32), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(rec + 576 + j * 16))));
    }
}

SWTI void widen_q8(const uint8_t *rec, uint8_t *dst) {
    const __m256i x80 = _mm256_set1_epi8((char)0x80);
#pragma clang loop unroll(full)
    for (int j = 0; j < 32; j++) {
        const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(rec + j * 32)), x80);
        const int g = j >> 2, o = (j & 3) * 32;
        _mm256_store_si256((__m256i *)(dst + g * 256 + o), _mm256_srai_epi16(_mm256_slli_epi16(w, 8), 8));
        _mm256_store_si256((__m256i *)(dst + g * 256 + 128 + o), _mm256_srai_epi16(w, 8));
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++)
        _mm256_store_ps((float *)(dst + 2048 + j * 32), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(rec + 1024 + j * 16))));
}

// A chunk's activation bytes as the int16 pairs the Q8_0 kernel broadcasts: per block, 8 dwords
// (x[4g], x[4g + 2]) then 8 dwords (x[4g + 1], x[4g + 3]), g < 8.
SWTI void widen_x(const uint8_t *x, int kb0, int kcb, int32_t *xw) {
    for (int bi = 0; bi < kcb; bi++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)((const sw_block_q8a *)x + kb0 + bi)->qs);
        _mm256_store_si256((__m256i *)(xw + bi * 16), _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8));
        _mm256_store_si256((__m256i *)(xw + bi * 16 + 8), _mm256_srai_epi16(v, 8));
    }
}

// Lane masks for the first n (0..8) lanes.
SWTI __m256i lane_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// A register tile's float sums into its nrows outputs at y (added to them with accumulate).
SWTI void store_sums(const __m256 *f, float *y, int nrows, int accumulate) {
#pragma clang loop unroll(full)
    for (int v = 0; v < NV; v++) {
        const int n = nrows - 8 * v;
        if (n <= 0) break;
        float *yv = y + 8 * v;
        if (n >= 8) {
            _mm256_storeu_ps(yv, accumulate ? _mm256_add_ps(f[v], _mm256_loadu_ps(yv)) : f[v]);
        } else {
            const __m256i mk = lane_mask(n);
            _mm256_maskstore_ps(yv, mk, accumulate ? _mm256_add_ps(f[v], _mm256_maskload_ps(yv, mk)) : f[v]);
        }
    }
}

// The tile's rows x one activation row (x: its q8a row, xsum: its block sums) over kcb blocks
// (blocks kb0.. of K); `nrows` of the 32 outputs at y are real. S is the chunk's widened
// scratch, or with `direct` its packed records, widened in registers instead: for a single
// activation row the scratch round trip costs more than it saves. Both read the same values
// and do the same arithmetic, so results are identical either way.
// `pf`: the next tile's records of the same blocks (or NULL), fetched into L2 one block per
// block, so the prefetches spread evenly over a whole tile's work ahead of their use.
SWTI void qkernel(const sw_qtype fmt, const int direct, const uint8_t *S, int kb0, int kcb,
                  const uint8_t *x, const int32_t *xsum, const int32_t *xw, float *y, int nrows,
                  int accumulate, const uint8_t *pf) {
    const int pb = direct ? (int)swi_qrec_bytes(fmt) : fmt == SW_QTYPE_Q8_0 ? PB8 : PB4;
    const __m256i m4 = _mm256_set1_epi8(0x0F), lo8 = _mm256_set1_epi16(0xFF);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 f[NV];
#pragma clang loop unroll(full)
    for (int v = 0; v < NV; v++) f[v] = _mm256_setzero_ps();

    for (int bi = 0; bi < kcb; bi++) {
        const int b = kb0 + bi;
        const uint8_t *pk = S + (size_t)bi * pb;
        const sw_block_q8a *xb = (const sw_block_q8a *)x + b;
        if (pf)
            for (int l = 0; l < (int)swi_qrec_bytes(fmt); l += 64) _mm_prefetch((const char *)(pf + (size_t)bi * swi_qrec_bytes(fmt) + l), _MM_HINT_T1);
        __m256i a[NV];
        if (fmt == SW_QTYPE_Q8_0) {
            // Records hold w + 128 (cancelled by -128 * sum(x)); scratch holds w sign-extended.
            const __m256i a0 = direct ? _mm256_set1_epi32(-128 * xsum[b]) : _mm256_setzero_si256();
#pragma clang loop unroll(full)
            for (int v = 0; v < NV; v++) a[v] = a0;
#pragma clang loop unroll(full)
            for (int g = 0; g < 8; g++) {
                const __m256i xe = _mm256_set1_epi32(xw[bi * 16 + g]);
                const __m256i xo = _mm256_set1_epi32(xw[bi * 16 + 8 + g]);
#pragma clang loop unroll(full)
                for (int v = 0; v < NV; v++) {
                    __m256i we, wo;
                    if (direct) {
                        const __m256i raw = _mm256_loadu_si256((const __m256i *)(pk + g * 128 + v * 32));
                        we = _mm256_and_si256(raw, lo8);
                        wo = _mm256_srli_epi16(raw, 8);
                    } else {
                        we = _mm256_load_si256((const __m256i *)(pk + g * 256 + v * 32));
                        wo = _mm256_load_si256((const __m256i *)(pk + g * 256 + 128 + v * 32));
                    }
                    a[v] = _mm256_add_epi32(a[v], _mm256_add_epi32(_mm256_madd_epi16(we, xe), _mm256_madd_epi16(wo, xo)));
                }
            }
        } else {
            __m256i s[NV];
#pragma clang loop unroll(full)
            for (int g = 0; g < 8; g++) {
                const __m256i xv = _mm256_set1_epi32(load_i32(xb->qs + 4 * g));
#pragma clang loop unroll(full)
                for (int v = 0; v < NV; v++) {
                    __m256i w;
                    if (direct) {
                        const __m256i raw = _mm256_loadu_si256((const __m256i *)(pk + (g & 3) * 128 + v * 32));
                        w = _mm256_and_si256(g < 4 ? raw : _mm256_srli_epi16(raw, 4), m4);
                    } else {
                        w = _mm256_load_si256((const __m256i *)(pk + g * 128 + v * 32));
                    }
                    const __m256i p = _mm256_maddubs_epi16(w, xv);
                    s[v] = g == 0 ? p : _mm256_add_epi16(s[v], p);
                }
            }
            // Q4_0 stores q + 8: subtract 8 * sum(x) to get the signed dot product.
            const __m256i off = fmt == SW_QTYPE_Q4_0 ? _mm256_set1_epi32(-8 * xsum[b]) : _mm256_setzero_si256();
#pragma clang loop unroll(full)
            for (int v = 0; v < NV; v++) a[v] = _mm256_add_epi32(_mm256_madd_epi16(s[v], ones), off);
        }
        const __m256 dx = _mm256_set1_ps(xb->d);
#pragma clang loop unroll(full)
        for (int v = 0; v < NV; v++) {
            const __m256 d = direct ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pk + (fmt == SW_QTYPE_Q8_0 ? 1024 : 512) + v * 16)))
                                    : _mm256_load_ps((const float *)(pk + (fmt == SW_QTYPE_Q8_0 ? 2048 : 1024)) + 8 * v);
            f[v] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a[v]), dx), d, f[v]);
        }
        if (fmt == SW_QTYPE_Q4_1) {
            const __m256 sx = _mm256_set1_ps(xb->s);
#pragma clang loop unroll(full)
            for (int v = 0; v < NV; v++) {
                const __m256 mv = direct ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pk + 576 + v * 16)))
                                         : _mm256_load_ps((const float *)(pk + 1152) + 8 * v);
                f[v] = _mm256_fmadd_ps(mv, sx, f[v]);
            }
        }
    }
    store_sums(f, y, nrows, accumulate);
}

typedef void (*qkernel_fn)(const uint8_t *S, int kb0, int kcb, const uint8_t *x, const int32_t *xsum,
                           const int32_t *xw, float *y, int nrows, int accumulate, const uint8_t *pf);

#define QK_DEF(FMT, NAME, DIRECT)                                                                 \
    SWT static void qk_##NAME(const uint8_t *S, int kb0, int kcb, const uint8_t *x,              \
                              const int32_t *xsum, const int32_t *xw, float *y, int nrows,       \
                              int accumulate, const uint8_t *pf) {                                \
        qkernel(FMT, DIRECT, S, kb0, kcb, x, xsum, xw, y, nrows, accumulate, pf);                 \
    }
QK_DEF(SW_QTYPE_Q8_0, q8_0, 0) QK_DEF(SW_QTYPE_Q4_0, q4_0, 0) QK_DEF(SW_QTYPE_Q4_1, q4_1, 0)
QK_DEF(SW_QTYPE_Q8_0, q8_0_direct, 1) QK_DEF(SW_QTYPE_Q4_0, q4_0_direct, 1) QK_DEF(SW_QTYPE_Q4_1, q4_1_direct, 1)
static const qkernel_fn qk_table[2][3] = {{qk_q8_0, qk_q4_0, qk_q4_1}, {qk_q8_0_direct, qk_q4_0_direct, qk_q4_1_direct}};

// One packed tile of up to NR weight rows (P: its K/32 records); Y points at the tile's first
// output column. [pf, pf + pf_bytes) is the packed tile this thread will probably do next.
// Each output row's arithmetic depends only on K (chunks, block order), never on m or on how
// the rows are split into register tiles, so a row's result is the same in any batch.
SWT void swi_qtile_avx2(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                        float *Y, size_t ldy, const uint8_t *pf, size_t pf_bytes) {
    _Alignas(32) uint8_t scratch[KCB4 * PB4 > KCB8 * PB8 ? KCB4 * PB4 : KCB8 * PB8];
    _Alignas(32) int32_t xw[KCB8 * 16];
    const int nb = K / 32;
    const size_t xrb = sw_q8a_row_bytes(K), rec = swi_qrec_bytes(t);
    // The chunks stay the same with or without scratch: they fix each row's float sums.
    const int nch = swi_avx2_chunks(t, nb);
    const int direct = m <= (t == SW_QTYPE_Q8_0 ? DIRECT_MAX_M8 : DIRECT_MAX_M);
    (void)pf_bytes;  // always a whole tile of the same K: the same block of it is prefetched
    const qkernel_fn fn = qk_table[direct][t];
    for (int c = 0, kb0 = 0, kcb; c < nch; c++, kb0 += kcb) {
        kcb = swi_chunk_blocks(nb, nch, c);
        const uint8_t *R = P + (size_t)kb0 * rec;
        const uint8_t *pfc = pf ? pf + (size_t)kb0 * rec : NULL;
        for (int bi = 0; bi < kcb && !direct; bi++) {
            if (t == SW_QTYPE_Q8_0) widen_q8(R + (size_t)bi * rec, scratch + (size_t)bi * PB8);
            else widen_q4(R + (size_t)bi * rec, t == SW_QTYPE_Q4_1, scratch + (size_t)bi * PB4);
            if (pfc)
                for (size_t l = 0; l < rec; l += 64) _mm_prefetch((const char *)(pfc + (size_t)bi * rec + l), _MM_HINT_T1);
        }
        for (int i = 0; i < m; i++) {
            const uint8_t *x = Xq + (size_t)i * xrb;
            if (t == SW_QTYPE_Q8_0) widen_x(x, kb0, kcb, xw);
            fn(direct ? R : scratch, kb0, kcb, x, (const int32_t *)(x + (size_t)nb * sizeof(sw_block_q8a)), xw,
               Y + (size_t)i * ldy, nrows, kb0 > 0, direct && i == 0 ? pfc : NULL);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Activation quantization (bit-identical to the scalar code in sw_quant_q8a.c).
// ---------------------------------------------------------------------------------------------

SWTI float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

SWT void swi_quantize_q8a_avx2(const float *x, size_t ldx, int m, int k, void *out) {
    const int nb = k / 32;
    const size_t rbytes = sw_q8a_row_bytes(k);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int i = 0; i < m; i++) {
        uint8_t *row = (uint8_t *)out + (size_t)i * rbytes;
        sw_block_q8a *blk = (sw_block_q8a *)row;
        int32_t *sums = (int32_t *)(row + (size_t)nb * sizeof(sw_block_q8a));
        const float *xr = x + (size_t)i * ldx;
        for (int b = 0; b < nb; b++) {
            __m256 v[4];
            for (int j = 0; j < 4; j++) v[j] = _mm256_loadu_ps(xr + 32 * b + 8 * j);
            const __m256 mx = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], absmask), _mm256_and_ps(v[1], absmask)),
                                            _mm256_max_ps(_mm256_and_ps(v[2], absmask), _mm256_and_ps(v[3], absmask)));
            const float amax = hmax8(mx);
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            const __m256 vid = _mm256_set1_ps(id);
            __m256i q[4];
            for (int j = 0; j < 4; j++) q[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], vid));
            // packs works per 128-bit lane: the bytes come out as dword order 0,2,4,6,1,3,5,7.
            const __m256i p16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            const __m256i p8 = _mm256_permutevar8x32_epi32(p16, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)blk[b].qs, p8);
            __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
            const int32_t sum = _mm_cvtsi128_si32(s4);
            blk[b].d = d;
            blk[b].s = d * (float)sum;
            sums[b] = sum;
        }
    }
}

#else  // not x86: never called (the level is never AVX2), but the symbols must exist.

void swi_qtile_avx2(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                    float *Y, size_t ldy, const uint8_t *pf, size_t pf_bytes) {
    (void)t; (void)P; (void)nrows; (void)K; (void)Xq; (void)m; (void)Y; (void)ldy;
    (void)pf; (void)pf_bytes; abort();
}
void swi_quantize_q8a_avx2(const float *x, size_t ldx, int m, int k, void *out) {
    (void)x; (void)ldx; (void)m; (void)k; (void)out; abort();
}

#endif
