#pragma once
// Internal interface of the Q5_0 / K-quant matmuls (sw_kquant.h): record geometry, the decoder
// every level shares, and the per-level tile kernels. Not part of the module's API.
//
// Each level's kernel works a chunk of up to SWI_KQ_CHUNK q8a blocks at a time: swi_kq_decode
// turns the chunk's packed records into
//   wq[bi * 1024 + g * 128 + (r, c)]  the u8 value (0..63) of element 4g + c of block bi, row r
//                                     (Q2_K: times its half's scale, at most 3 * 15 = 45)
//   ds[bi * 32 + r]                   Q5_0/Q5_1 d; Q4_K/Q5_K d * scale; Q2_K, Q3_K, Q6_K d
//   dm[bi * 32 + r]                   Q4_K/Q5_K -(dmin * min); Q5_1 m
//   dm[(bi * 2 + k) * 32 + r]         Q2_K -(dmin * min) of half k (elements 16k .. 16k + 15)
//   isc[(bi * 2 + k) * 32 + r]        Q2_K, Q3_K, Q6_K integer scale of half k
// and then every activation row reuses them. The decoder is plain C, always inlined into each
// level's target-attributed kernel, where the compiler vectorizes its loops for that level. Per
// block and row, every level does the same integer sum and the same float steps:
//   Q5_0:       a = dot(w, x) - 16 * sum(x);           acc = fma(ds, dx * a, acc)
//   Q4_K, Q5_K, Q5_1: a = dot(w, x);                   acc = fma(ds, dx * a, acc); acc = fma(dm, s, acc)
//   Q3_K, Q6_K: a = isc0 * (dot_lo - o * sum_lo(x)) + isc1 * (dot_hi - o * sum_hi(x)), o = 4 or 32;
//               acc = fma(ds, dx * a, acc)
//   Q2_K:       a = isc0 * dot_lo + isc1 * dot_hi;     acc = fma(ds, dx * a, acc);
//               acc = fma(dm0, dx * sum_lo(x), acc);   acc = fma(dm1, dx * sum_hi(x), acc)
//               (on the decoded chunk, whose values carry the scales, a = dot(w, x): the same sum)
// with dx, s the q8a block's scale and scaled sum, dot_lo over elements 0..15 and dot_hi over
// 16..31. All integer sums are exact (|a| < 2^24 in Q6_K), so only float rounding differs between
// levels, and a row's float steps do not depend on m.
#include "sw_kquant.h"
#include "sw_quant.h"

#include <stdint.h>
#include <string.h>

#define SWI_KQ_CHUNK 8
/// Entries of the decoded dm and isc arrays (two halves per block).
#define SWI_KQ_HALVES (SWI_KQ_CHUNK * 64)

/// Bytes of one packed record of 32 rows (32 GGUF blocks).
static inline size_t swi_kq_rec_bytes(sw_kqtype t) {
    switch (t) {
        case SW_KQ_Q5_0: return 704;
        case SW_KQ_Q5_1: return 768;
        case SW_KQ_Q2_K: return 2688;
        case SW_KQ_Q3_K: return 3520;
        case SW_KQ_Q4_K: return 4608;
        case SW_KQ_Q5_K: return 5632;
        case SW_KQ_Q6_K: return 6720;
    }
    return 0;
}

/// Q5_0 and Q5_1: one 32-element block per record.
static inline int swi_kq_is_q5x(sw_kqtype t) { return t == SW_KQ_Q5_0 || t == SW_KQ_Q5_1; }

/// Formats whose values carry an offset per (sub-)block: acc += dm * s.
static inline int swi_kq_has_min(sw_kqtype t) { return t == SW_KQ_Q4_K || t == SW_KQ_Q5_K || t == SW_KQ_Q5_1; }

/// Formats with a scale per 16 elements (two per q8a block): they need the activations' sums
/// over each half block.
static inline int swi_kq_has_halves(sw_kqtype t) { return t == SW_KQ_Q2_K || t == SW_KQ_Q3_K || t == SW_KQ_Q6_K; }

/// The offset o of the half-block formats' stored values (value = stored - o).
static inline int32_t swi_kq_half_offset(sw_kqtype t) { return t == SW_KQ_Q6_K ? 32 : t == SW_KQ_Q3_K ? 4 : 0; }

/// Q2_K: decoded values carry their half's scale (swi_kq_decode), so the kernels working on a
/// decoded chunk sum each block whole; those reading the records directly split it in halves.
static inline int swi_kq_prescaled(sw_kqtype t) { return t == SW_KQ_Q2_K; }

/// q8a blocks (32 elements) per record.
static inline int swi_kq_rec_blocks(sw_kqtype t) { return swi_kq_is_q5x(t) ? 1 : 8; }

#define SWI_KQ_INLINE static inline __attribute__((always_inline))

SWI_KQ_INLINE uint32_t swi_kq_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

SWI_KQ_INLINE float swi_kq_f32_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/// IEEE half -> float, exact, as selects the compiler can vectorize (no library call).
SWI_KQ_INLINE float swi_kq_h2f(uint16_t h) {
    const uint32_t exp_mask = 0x7C00u << 13;
    uint32_t o = (uint32_t)(h & 0x7FFF) << 13;
    const uint32_t e = o & exp_mask;
    o += (uint32_t)(127 - 15) << 23;
    const uint32_t inf_nan = o + ((uint32_t)(128 - 16) << 23);
    // Subnormals: renormalize by subtracting the implicit bit's value (2^-14) in float.
    const float sub = swi_kq_f32_bits(o + (1u << 23)) - swi_kq_f32_bits(113u << 23);
    uint32_t sub_bits;
    memcpy(&sub_bits, &sub, 4);
    const uint32_t r = e == exp_mask ? inf_nan : e == 0 ? sub_bits : o;
    return swi_kq_f32_bits(r | (uint32_t)(h & 0x8000) << 16);
}

SWI_KQ_INLINE float swi_kq_half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return swi_kq_h2f(h);
}

// Q4_K / Q5_K: float scale and negated min of sub-block j of 32 rows, from the three scale
// dwords per row at `s` (GGML's 6-bit packing: j < 4 in bytes j and 4 + j; j >= 4 split between
// byte 8 + j - 4 and the top bits of bytes j - 4 and j). Loops run over rows so they vectorize.
SWI_KQ_INLINE void swi_kq_scales_k4(const uint8_t *s, const uint8_t *dp, const uint8_t *dminp, float *ds,
                                    float *dm) {
    float d[32], dmin[32];
    uint32_t d0[32], d1[32], d2[32];
    for (int r = 0; r < 32; r++) {
        d[r] = swi_kq_half_at(dp + 2 * r);
        dmin[r] = -swi_kq_half_at(dminp + 2 * r);
        d0[r] = swi_kq_u32(s + r * 4);
        d1[r] = swi_kq_u32(s + 128 + r * 4);
        d2[r] = swi_kq_u32(s + 256 + r * 4);
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++)
        for (int r = 0; r < 32; r++) {
            ds[j * 32 + r] = d[r] * (float)((d0[r] >> (8 * j)) & 63);
            dm[j * 32 + r] = dmin[r] * (float)((d1[r] >> (8 * j)) & 63);
        }
#pragma clang loop unroll(full)
    for (int j = 4; j < 8; j++) {
        const int k = 8 * (j - 4);
        for (int r = 0; r < 32; r++) {
            ds[j * 32 + r] = d[r] * (float)(((d2[r] >> k) & 15) | ((d0[r] >> (k + 2)) & 0x30));
            dm[j * 32 + r] = dmin[r] * (float)(((d2[r] >> (k + 4)) & 15) | ((d1[r] >> (k + 2)) & 0x30));
        }
    }
}

/// Q6_K: the 16 signed scales of 32 rows as int32 (isc[k * 32 + r]) and d for each sub-block.
SWI_KQ_INLINE void swi_kq_scales_q6(const uint8_t *R, float *ds, int32_t *isc) {
#pragma clang loop unroll(full)
    for (int k = 0; k < 16; k++)
        for (int r = 0; r < 32; r++)
            isc[k * 32 + r] = (int32_t)(swi_kq_u32(R + 6144 + (k >> 2) * 128 + r * 4) << (24 - 8 * (k & 3))) >> 24;
    float d[32];
    for (int r = 0; r < 32; r++) d[r] = swi_kq_half_at(R + 6656 + 2 * r);
    for (int j = 0; j < 8; j++)
        for (int r = 0; r < 32; r++) ds[j * 32 + r] = d[r];
}

/// Q2_K: the 16 scales of 32 rows as int32 (isc[k * 32 + r]), -(dmin * min) per half (dm, same
/// index) and d for each sub-block.
SWI_KQ_INLINE void swi_kq_scales_q2(const uint8_t *R, float *ds, float *dm, int32_t *isc) {
    float d[32], dmin[32];
    for (int r = 0; r < 32; r++) {
        d[r] = swi_kq_half_at(R + 2560 + 2 * r);
        dmin[r] = -swi_kq_half_at(R + 2624 + 2 * r);
    }
#pragma clang loop unroll(full)
    for (int k = 0; k < 16; k++)
        for (int r = 0; r < 32; r++) {
            const uint32_t v = swi_kq_u32(R + 2048 + (k >> 2) * 128 + r * 4) >> (8 * (k & 3));
            isc[k * 32 + r] = (int32_t)(v & 15);
            dm[k * 32 + r] = dmin[r] * (float)((v >> 4) & 15);
        }
    for (int j = 0; j < 8; j++)
        for (int r = 0; r < 32; r++) ds[j * 32 + r] = d[r];
}

/// Q3_K: the 16 signed scales of 32 rows as int32 (isc[k * 32 + r]) and d for each sub-block.
/// GGML's packing: the low 4 bits of scale k are nibble k >> 3 of byte k & 7, the high 2 bits
/// are bits 2 (k >> 2) of byte 8 + (k & 3); the value is stored + 32.
SWI_KQ_INLINE void swi_kq_scales_q3(const uint8_t *R, float *ds, int32_t *isc) {
#pragma clang loop unroll(full)
    for (int k = 0; k < 16; k++)
        for (int r = 0; r < 32; r++) {
            const uint32_t lo = (swi_kq_u32(R + 3072 + ((k >> 2) & 1) * 128 + r * 4) >> (8 * (k & 3) + 4 * (k >> 3))) & 15;
            const uint32_t hi = (swi_kq_u32(R + 3328 + r * 4) >> (8 * (k & 3) + 2 * (k >> 2))) & 3;
            isc[k * 32 + r] = (int32_t)(lo | hi << 4) - 32;
        }
    float d[32];
    for (int r = 0; r < 32; r++) d[r] = swi_kq_half_at(R + 3456 + 2 * r);
    for (int j = 0; j < 8; j++)
        for (int r = 0; r < 32; r++) ds[j * 32 + r] = d[r];
}

/// The scales alone of the records at R covering q8a blocks [0, nblk) (see swi_kq_decode): the
/// values the full decode writes to ds, dm and isc.
SWI_KQ_INLINE void swi_kq_scales(const sw_kqtype t, const uint8_t *R, int nblk, float *ds, float *dm, int32_t *isc) {
    switch (t) {
        case SW_KQ_Q5_0:
        case SW_KQ_Q5_1:
            for (int bi = 0; bi < nblk; bi++) {
                const uint8_t *rec = R + (size_t)bi * swi_kq_rec_bytes(t);
                for (int r = 0; r < 32; r++) ds[bi * 32 + r] = swi_kq_half_at(rec + 640 + 2 * r);
                if (t == SW_KQ_Q5_1)
                    for (int r = 0; r < 32; r++) dm[bi * 32 + r] = swi_kq_half_at(rec + 704 + 2 * r);
            }
            break;
        case SW_KQ_Q4_K:
        case SW_KQ_Q5_K: {
            const uint8_t *s = R + (t == SW_KQ_Q5_K ? 5120 : 4096);
            swi_kq_scales_k4(s, s + 384, s + 448, ds, dm);
            break;
        }
        case SW_KQ_Q2_K: swi_kq_scales_q2(R, ds, dm, isc); break;
        case SW_KQ_Q3_K: swi_kq_scales_q3(R, ds, isc); break;
        case SW_KQ_Q6_K: swi_kq_scales_q6(R, ds, isc); break;
    }
}

/// Decodes the records at R covering q8a blocks [0, nblk) of a chunk (see the top of the file).
/// K-quant chunks are one record (nblk = 8); Q5_0 / Q5_1 chunks are nblk records of one block.
SWI_KQ_INLINE void swi_kq_decode(const sw_kqtype t, const uint8_t *R, int nblk, uint8_t *wq, float *ds,
                                 float *dm, int32_t *isc) {
    if (swi_kq_is_q5x(t)) {
        for (int bi = 0; bi < nblk; bi++) {
            const uint8_t *rec = R + (size_t)bi * swi_kq_rec_bytes(t);
            uint8_t *w = wq + bi * 1024;
            for (int g = 0; g < 8; g++)
                for (int i = 0; i < 128; i++) {
                    const uint8_t q = rec[(g & 3) * 128 + i];
                    w[g * 128 + i] = (uint8_t)(((g < 4 ? q : q >> 4) & 15) | ((rec[512 + i] >> g) & 1) << 4);
                }
        }
    } else if (t == SW_KQ_Q4_K || t == SW_KQ_Q5_K) {
        const int q5 = t == SW_KQ_Q5_K;
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = R + (j >> 1) * 1024;
            const int sh = (j & 1) * 4;
            uint8_t *w = wq + j * 1024;
            if (q5) {
                for (int i = 0; i < 1024; i++)
                    w[i] = (uint8_t)(((q[i] >> sh) & 15) | ((R[4096 + i] >> j) & 1) << 4);
            } else {
                for (int i = 0; i < 1024; i++) w[i] = (uint8_t)((q[i] >> sh) & 15);
            }
        }
    } else if (t == SW_KQ_Q3_K) {
        // Sub-block j takes bits 2 (j & 3) of qs half j >> 2 and bit j of hmask.
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = R + (j >> 2) * 1024;
            const int sh = 2 * (j & 3);
            uint8_t *w = wq + j * 1024;
            for (int i = 0; i < 1024; i++) w[i] = (uint8_t)(((q[i] >> sh) & 3) | ((R[2048 + i] >> j) & 1) << 2);
        }
    } else if (t == SW_KQ_Q2_K) {
        // As Q3_K's low bits, each times its half's scale: a row's four bytes at once, as one
        // dword times the scale (products of at most 45 do not carry into the next byte).
        swi_kq_scales_q2(R, ds, dm, isc);
        // Each group's 32 dwords go through a local array: stored one by one through wq (bytes,
        // which may alias anything) the loop was not vectorized.
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = R + (j >> 2) * 1024;
            const int sh = 2 * (j & 3);
            for (int g = 0; g < 8; g++) {
                const int32_t *s = isc + (2 * j + (g >> 2)) * 32;
                uint32_t v[32];
                for (int r = 0; r < 32; r++) v[r] = ((swi_kq_u32(q + g * 128 + r * 4) >> sh) & 0x03030303u) * (uint32_t)s[r];
                memcpy(wq + j * 1024 + g * 128, v, sizeof v);
            }
        }
        return;
    } else {
        // Q6_K: sub-block j = 4h + t of half h takes ql group u = t & 1 (nibble t >> 1) and qh bits 2t.
        for (int j = 0; j < 8; j++) {
            const int h = j >> 2, tt = j & 3;
            const uint8_t *ql = R + h * 2048 + (tt & 1) * 1024, *qh = R + 4096 + h * 1024;
            const int sh = 4 * (tt >> 1), hs = 2 * tt;
            uint8_t *w = wq + j * 1024;
            for (int i = 0; i < 1024; i++) w[i] = (uint8_t)(((ql[i] >> sh) & 15) | ((qh[i] >> hs) & 3) << 4);
        }
    }
    swi_kq_scales(t, R, nblk, ds, dm, isc);
}

// The tile kernels: one packed tile (P: its records), nrows (<= 32) real rows, m activation
// rows; Y points at the tile's first output column. xlo: the half-block formats only, the int16
// sums of the first 16 quants of every activation block (row i's at xlo + i * K / 32), else NULL.
void swi_kqtile_scalar(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                       size_t ldy, const int16_t *xlo);
void swi_kqtile_avx2(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                     size_t ldy, const int16_t *xlo);
void swi_kqtile_avx512(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                       size_t ldy, const int16_t *xlo);
#if defined(__aarch64__)
void swi_kqtile_neon(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                     size_t ldy, const int16_t *xlo, int dotprod);
#endif
