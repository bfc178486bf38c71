// AVX-512 VNNI quantized kernels behind sw_quant.c (packing, tiles, activation quantization; the
// BF16 matmul is in sw_bf16_avx512.c, the converters in sw_convert_avx512.c). Compiled for every
// target but each function carries its own target attribute, so the rest of the library stays
// portable and these are only entered after sw_cpu_use_avx512() said yes.
#include "sw_quant.h"
#include "sw_quant_impl.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define SWT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16,f16c,fma")))
#define SWTI SWT static inline __attribute__((always_inline))

// Quantized kernel geometry.
//
// Weights are consumed "vertically": a zmm lane holds one weight row, and one vpdpbusd
// multiplies 4 consecutive k of 16 rows by the same 4 activation bytes (a dword broadcast).
// The int32 accumulator of a 32-element block then needs a single int->float conversion and
// scale per 16 rows, instead of one per row as in a horizontal dot product. GGUF stores rows
// contiguously, so sw_qpack regroups each 32-row tile once at load into block records (the
// layout every level reads; spelled out byte by byte in sw_quant.h):
//   Q8_0: [8 groups][32 rows] dwords of w ^ 0x80 (1024 B) | 32 f16 d
//   Q4_x: [4 groups g][32 rows] dwords of raw qs bytes 4g..4g+3 (512 B: the low nibbles are
//         group g, the high ones group g + 4) | 32 f16 d | Q4_1: 32 f16 m
// Q8_0 records are read as they are. Q4 records are widened per K chunk into `PB`-byte scratch
// blocks ([8 groups][32 rows] dwords of nibbles | 32 float d | 32 float m) that every register
// tile of activation rows then reuses.
#define NR 32          // weight rows per tile (two zmm of lanes)
#define MR 6           // activation rows per register tile
#define KCB 32         // K blocks per chunk (keeps the widened chunk at 40 KB, ~L1)
#define PB 1280        // widened bytes per block of NR rows
// Prefetch stride: every other line, since the L2 adjacent-line prefetcher fetches the pairs.
#define PF_STEP 128

static inline int32_t load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// ---------------------------------------------------------------------------------------------
// Packing (at load): 16 rows of one block into lanes of dst (dst = group 0 of this half).
// ---------------------------------------------------------------------------------------------

// Q8_0: rows are signed; vpdpbusd wants the weight side unsigned, so store w ^ 0x80 = w + 128
// and let the accumulator start at -128 * sum(x) to cancel the offset exactly.
SWTI void pack16_q8_0(const uint8_t *w, size_t rb, uint8_t *dst) {
    __m512i z[8];
#pragma clang loop unroll(full)
    for (int r = 0; r < 8; r++) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)(w + (size_t)r * rb));
        __m256i hi = _mm256_loadu_si256((const __m256i *)(w + (size_t)(r + 8) * rb));
        z[r] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    // 8x8 dword transpose inside each 256-bit half (rows r and r+8 travel together).
    __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    __m512i t4 = _mm512_unpacklo_epi32(z[4], z[5]), t5 = _mm512_unpackhi_epi32(z[4], z[5]);
    __m512i t6 = _mm512_unpacklo_epi32(z[6], z[7]), t7 = _mm512_unpackhi_epi32(z[6], z[7]);
    __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
    __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
    __m512i u4 = _mm512_unpacklo_epi64(t4, t6), u5 = _mm512_unpackhi_epi64(t4, t6);
    __m512i u6 = _mm512_unpacklo_epi64(t5, t7), u7 = _mm512_unpackhi_epi64(t5, t7);
    // u_j 128-bit lanes: [rows 0-3 dword j, rows 0-3 dword j+4, rows 8-11 dword j, rows 8-11
    // dword j+4]; u_{j+4} likewise for rows 4-7 / 12-15. Interleave them into row order.
    const __m512i ilo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i ihi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    const __m512i x80 = _mm512_set1_epi8((char)0x80);
    __m512i g[8];
    g[0] = _mm512_permutex2var_epi64(u0, ilo, u4);
    g[4] = _mm512_permutex2var_epi64(u0, ihi, u4);
    g[1] = _mm512_permutex2var_epi64(u1, ilo, u5);
    g[5] = _mm512_permutex2var_epi64(u1, ihi, u5);
    g[2] = _mm512_permutex2var_epi64(u2, ilo, u6);
    g[6] = _mm512_permutex2var_epi64(u2, ihi, u6);
    g[3] = _mm512_permutex2var_epi64(u3, ilo, u7);
    g[7] = _mm512_permutex2var_epi64(u3, ihi, u7);
#pragma clang loop unroll(full)
    for (int j = 0; j < 8; j++) _mm512_storeu_si512((__m512i *)(dst + j * 128), _mm512_xor_si512(g[j], x80));
}

// Q4_0 / Q4_1: byte j of qs holds element j (low nibble) and element j+16 (high nibble), so
// dword g of the raw qs gives group g (low nibbles) and group g+4 (high nibbles) directly.
SWTI void pack16_q4(const uint8_t *w, size_t rb, uint8_t *dst) {
    __m512i z[4];
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(w + (size_t)j * rb)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(w + (size_t)(j + 4) * rb)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(w + (size_t)(j + 8) * rb)), 2);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(w + (size_t)(j + 12) * rb)), 3);
        z[j] = v;
    }
    __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
    __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
    _mm512_storeu_si512((__m512i *)(dst + 0 * 128), _mm512_unpacklo_epi64(t0, t2));
    _mm512_storeu_si512((__m512i *)(dst + 1 * 128), _mm512_unpackhi_epi64(t0, t2));
    _mm512_storeu_si512((__m512i *)(dst + 2 * 128), _mm512_unpacklo_epi64(t1, t3));
    _mm512_storeu_si512((__m512i *)(dst + 3 * 128), _mm512_unpackhi_epi64(t1, t3));
}

// The f16 row scales (and Q4_1 mins, which directly follow d) of 32 rows: one dword gather per 16.
SWTI void pack_scales(const uint8_t *w, size_t rb, __m512i gidx, int has_m, uint8_t *d, uint8_t *m) {
#pragma clang loop unroll(full)
    for (int h = 0; h < 2; h++) {
        __m512i v = _mm512_i32gather_epi32(gidx, (const void *)(w + (size_t)h * 16 * rb), 1);
        _mm256_storeu_si256((__m256i *)(d + h * 32), _mm512_cvtepi32_epi16(v));
        if (has_m) _mm256_storeu_si256((__m256i *)(m + h * 32), _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)));
    }
}

SWT void swi_qpack_avx512(sw_qtype fmt, const uint8_t *W, int N, int K, uint8_t *out) {
    const int nb = K / 32;
    const size_t bb = sw_qtype_block_bytes(fmt), rb = bb * (size_t)nb, rec = swi_qrec_bytes(fmt);
    const __m512i gidx = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32((int)rb));
    uint8_t *padded = NULL;
    for (int n0 = 0; n0 < N; n0 += NR) {
        const uint8_t *w = W + (size_t)n0 * rb;
        if (N - n0 < NR) {
            // The kernel always reads NR rows: the tail tile gets zero rows (scale 0).
            padded = (uint8_t *)calloc(NR, rb);
            if (!padded) abort();
            memcpy(padded, w, (size_t)(N - n0) * rb);
            w = padded;
        }
        uint8_t *dst = out + (size_t)(n0 / NR) * nb * rec;
        for (int b = 0; b < nb; b++, dst += rec) {
            const uint8_t *wb = w + (size_t)b * bb;
            if (fmt == SW_QTYPE_Q8_0) {
                pack16_q8_0(wb + 2, rb, dst);
                pack16_q8_0(wb + 2 + 16 * rb, rb, dst + 64);
                pack_scales(wb, rb, gidx, 0, dst + 1024, NULL);
            } else {
                const size_t off = fmt == SW_QTYPE_Q4_0 ? 2 : 4;
                pack16_q4(wb + off, rb, dst);
                pack16_q4(wb + off + 16 * rb, rb, dst + 64);
                pack_scales(wb, rb, gidx, fmt == SW_QTYPE_Q4_1, dst + 512, dst + 576);
            }
        }
    }
    free(padded);
}

// Widens one Q4 record into a scratch block (see the geometry note).
SWTI void widen_q4(const uint8_t *rec, int has_m, uint8_t *dst) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
#pragma clang loop unroll(full)
    for (int j = 0; j < 8; j++) {
        const __m512i v = _mm512_loadu_si512((const __m512i *)(rec + j * 64));
        const int g = j >> 1, h = j & 1;
        _mm512_store_si512((__m512i *)(dst + g * 128 + h * 64), _mm512_and_si512(v, m4));
        _mm512_store_si512((__m512i *)(dst + (g + 4) * 128 + h * 64), _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
    }
#pragma clang loop unroll(full)
    for (int h = 0; h < 2; h++) {
        _mm512_store_ps((float *)(dst + 1024 + h * 64), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(rec + 512 + h * 32))));
        if (has_m)
            _mm512_store_ps((float *)(dst + 1152 + h * 64), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(rec + 576 + h * 32))));
    }
}

// ---------------------------------------------------------------------------------------------
// Register tile: NR weight rows x mr activation rows over blocks [kb0, kb0 + kcb).
// ---------------------------------------------------------------------------------------------

// R: the records of blocks kb0.. of this tile. Q4 formats read the widened scratch, which the
// first register tile of a chunk fills (`widen`).
SWTI void qkernel(const sw_qtype fmt, const int mr, const uint8_t *R, int kb0, int kcb, int nb,
                  const uint8_t *X, size_t xrb, int widen, uint8_t *scratch, float *Y, size_t ldy,
                  __mmask16 mk0, __mmask16 mk1, int accumulate, const uint8_t *pf,
                  const uint8_t *pf_end, int pf_lines) {
    const size_t rec = swi_qrec_bytes(fmt);
    // The offset folded into the unsigned weights (see pack16_q8_0 / Q4_0's "-8").
    const int32_t off = fmt == SW_QTYPE_Q8_0 ? -128 : fmt == SW_QTYPE_Q4_0 ? -8 : 0;
    __m512 f[MR][2];
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) f[i][0] = f[i][1] = _mm512_setzero_ps();
    const size_t sum_off = (size_t)nb * sizeof(sw_block_q8a);

    for (int bi = 0; bi < kcb; bi++) {
        const int b = kb0 + bi;
        const uint8_t *rb = R + (size_t)bi * rec;
        // Pull the next tile's weights into L2 a few lines at a time (see swi_qtile_avx512).
        for (int j = 0; j < pf_lines; j++, pf += PF_STEP)
            if (pf < pf_end) _mm_prefetch((const char *)pf, _MM_HINT_T1);
        const uint8_t *pk = rb;
        if (fmt != SW_QTYPE_Q8_0) {
            pk = scratch + (size_t)bi * PB;
            if (widen) widen_q4(rb, fmt == SW_QTYPE_Q4_1, scratch + (size_t)bi * PB);
        }
        __m512i a[MR][2];
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            if (off != 0) {
                const int32_t s = load_i32(X + (size_t)i * xrb + sum_off + (size_t)b * 4);
                a[i][0] = a[i][1] = _mm512_set1_epi32(off * s);
            } else {
                a[i][0] = a[i][1] = _mm512_setzero_si512();
            }
        }
#pragma clang loop unroll(full)
        for (int g = 0; g < 8; g++) {
            const __m512i w0 = _mm512_loadu_si512((const __m512i *)(pk + g * 128));
            const __m512i w1 = _mm512_loadu_si512((const __m512i *)(pk + g * 128 + 64));
#pragma clang loop unroll(full)
            for (int i = 0; i < mr; i++) {
                const uint8_t *xb = X + (size_t)i * xrb + (size_t)b * sizeof(sw_block_q8a);
                const __m512i xv = _mm512_set1_epi32(load_i32(xb + 8 + 4 * g));
                a[i][0] = _mm512_dpbusd_epi32(a[i][0], w0, xv);
                a[i][1] = _mm512_dpbusd_epi32(a[i][1], w1, xv);
            }
        }
        __m512 d0, d1;
        if (fmt == SW_QTYPE_Q8_0) {
            d0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pk + 1024)));
            d1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pk + 1056)));
        } else {
            d0 = _mm512_load_ps((const float *)(pk + 1024));
            d1 = _mm512_load_ps((const float *)(pk + 1024 + 64));
        }
#pragma clang loop unroll(full)
        for (int i = 0; i < mr; i++) {
            const sw_block_q8a *xb =
                (const sw_block_q8a *)(X + (size_t)i * xrb + (size_t)b * sizeof(sw_block_q8a));
            const __m512 dx = _mm512_set1_ps(xb->d);
            f[i][0] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a[i][0]), dx), d0, f[i][0]);
            f[i][1] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a[i][1]), dx), d1, f[i][1]);
        }
        if (fmt == SW_QTYPE_Q4_1) {
            const __m512 m0 = _mm512_load_ps((const float *)(pk + 1152));
            const __m512 m1 = _mm512_load_ps((const float *)(pk + 1152 + 64));
#pragma clang loop unroll(full)
            for (int i = 0; i < mr; i++) {
                const sw_block_q8a *xb =
                    (const sw_block_q8a *)(X + (size_t)i * xrb + (size_t)b * sizeof(sw_block_q8a));
                const __m512 s = _mm512_set1_ps(xb->s);
                f[i][0] = _mm512_fmadd_ps(m0, s, f[i][0]);
                f[i][1] = _mm512_fmadd_ps(m1, s, f[i][1]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int i = 0; i < mr; i++) {
        float *y = Y + (size_t)i * ldy;
        __m512 r0 = f[i][0], r1 = f[i][1];
        if (accumulate) {
            r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(mk0, y));
            r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(mk1, y + 16));
        }
        _mm512_mask_storeu_ps(y, mk0, r0);
        _mm512_mask_storeu_ps(y + 16, mk1, r1);
    }
}

typedef void (*qkernel_fn)(const uint8_t *R, int kb0, int kcb, int nb, const uint8_t *X,
                           size_t xrb, int widen, uint8_t *scratch, float *Y, size_t ldy,
                           __mmask16 mk0, __mmask16 mk1, int accumulate, const uint8_t *pf,
                           const uint8_t *pf_end, int pf_lines);

#define QK_DEF(FMT, NAME, R)                                                                   \
    SWT static void qk_##NAME##_##R(const uint8_t *Rp, int kb0, int kcb, int nb,              \
                                    const uint8_t *X, size_t xrb, int widen, uint8_t *scratch, \
                                    float *Y, size_t ldy, __mmask16 mk0, __mmask16 mk1,       \
                                    int accumulate, const uint8_t *pf, const uint8_t *pf_end, \
                                    int pf_lines) {                                           \
        qkernel(FMT, R, Rp, kb0, kcb, nb, X, xrb, widen, scratch, Y, ldy, mk0, mk1,           \
                accumulate, pf, pf_end, pf_lines);                                            \
    }
#define QK_DEF_ALL(FMT, NAME) \
    QK_DEF(FMT, NAME, 1) QK_DEF(FMT, NAME, 2) QK_DEF(FMT, NAME, 3) QK_DEF(FMT, NAME, 4) \
    QK_DEF(FMT, NAME, 5) QK_DEF(FMT, NAME, 6)
QK_DEF_ALL(SW_QTYPE_Q8_0, q8_0)
QK_DEF_ALL(SW_QTYPE_Q4_0, q4_0)
QK_DEF_ALL(SW_QTYPE_Q4_1, q4_1)

static const qkernel_fn qk_table[3][MR + 1] = {
    {NULL, qk_q8_0_1, qk_q8_0_2, qk_q8_0_3, qk_q8_0_4, qk_q8_0_5, qk_q8_0_6},
    {NULL, qk_q4_0_1, qk_q4_0_2, qk_q4_0_3, qk_q4_0_4, qk_q4_0_5, qk_q4_0_6},
    {NULL, qk_q4_1_1, qk_q4_1_2, qk_q4_1_3, qk_q4_1_4, qk_q4_1_5, qk_q4_1_6},
};

// One packed tile of up to NR weight rows (P: its K/32 records); Y points at the tile's first
// output column. [pf, pf + pf_bytes) is the packed tile this thread will probably do next.
SWT void swi_qtile_avx512(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq,
                          int m, float *Y, size_t ldy, const uint8_t *pf, size_t pf_bytes) {
    _Alignas(64) uint8_t scratch[KCB * PB];
    const int nb = K / 32;
    const size_t xrb = sw_q8a_row_bytes(K), rec = swi_qrec_bytes(t);
    const __mmask16 mk0 = nrows >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nrows) - 1);
    const __mmask16 mk1 = nrows >= 32 ? (__mmask16)0xFFFF
                          : nrows <= 16 ? (__mmask16)0
                                        : (__mmask16)((1u << (nrows - 16)) - 1);
    const qkernel_fn *fns = qk_table[t];
    // Balanced row tiles (32 rows -> 6,6,5,5,5,5 rather than 6,6,6,6,6,2): a thin last tile
    // would pay the full weight-load cost for little work.
    const int ntile = (m + MR - 1) / MR, base = m / ntile, extra = m % ntile;
    // Spreading explicit prefetches of the next tile over every block iteration of this one
    // hides the latency of weights that come from L3 or DRAM.
    const uint8_t *pf_end = pf ? pf + pf_bytes : NULL;
    const long iters = (long)ntile * nb;
    const int pf_lines = pf ? (int)(((long)((pf_bytes + PF_STEP - 1) / PF_STEP) + iters - 1) / iters) : 0;
    for (int kb0 = 0; kb0 < nb; kb0 += KCB) {
        const int kcb = nb - kb0 < KCB ? nb - kb0 : KCB;
        for (int ti = 0, i0 = 0; ti < ntile; ti++) {
            const int mr = base + (ti < extra);
            fns[mr](P + (size_t)kb0 * rec, kb0, kcb, nb, Xq + (size_t)i0 * xrb, xrb, i0 == 0, scratch,
                    Y + (size_t)i0 * ldy, ldy, mk0, mk1, kb0 > 0, pf, pf_end, pf_lines);
            if (pf) pf += (size_t)pf_lines * PF_STEP * (size_t)kcb;
            i0 += mr;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Activation quantization (bit-identical to the scalar code in sw_quant_q8a.c).
// ---------------------------------------------------------------------------------------------

SWT void swi_quantize_q8a_avx512(const float *x, size_t ldx, int m, int k, void *out) {
    const int nb = k / 32;
    const size_t rbytes = sw_q8a_row_bytes(k);
    for (int i = 0; i < m; i++) {
        uint8_t *row = (uint8_t *)out + (size_t)i * rbytes;
        sw_block_q8a *blk = (sw_block_q8a *)row;
        int32_t *sums = (int32_t *)(row + (size_t)nb * sizeof(sw_block_q8a));
        const float *xr = x + (size_t)i * ldx;
        for (int b = 0; b < nb; b++) {
            const __m512 v0 = _mm512_loadu_ps(xr + 32 * b);
            const __m512 v1 = _mm512_loadu_ps(xr + 32 * b + 16);
            const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            const __m512 vid = _mm512_set1_ps(id);
            const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, vid));
            const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, vid));
            _mm_storeu_si128((__m128i *)blk[b].qs, _mm512_cvtepi32_epi8(q0));
            _mm_storeu_si128((__m128i *)(blk[b].qs + 16), _mm512_cvtepi32_epi8(q1));
            const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
            blk[b].d = d;
            blk[b].s = d * (float)sum;
            sums[b] = sum;
        }
    }
}

#else  // not x86: never called (sw_cpu_use_avx512() is 0), but the symbols must exist.

void swi_quantize_q8a_avx512(const float *x, size_t ldx, int m, int k, void *out) {
    (void)x; (void)ldx; (void)m; (void)k; (void)out; abort();
}
void swi_qtile_avx512(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq,
                      int m, float *Y, size_t ldy, const uint8_t *pf, size_t pf_bytes) {
    (void)t; (void)P; (void)nrows; (void)K; (void)Xq; (void)m; (void)Y; (void)ldy;
    (void)pf; (void)pf_bytes; abort();
}
void swi_qpack_avx512(sw_qtype fmt, const uint8_t *W, int N, int K, uint8_t *out) {
    (void)fmt; (void)W; (void)N; (void)K; (void)out; abort();
}
#endif
