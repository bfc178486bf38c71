#pragma once
// Internal interface between the portable quantized/bf16 code (sw_quant.c: entry points and
// driver; sw_quant_ref.c: scalar reference; sw_quant_q8a.c: activation quantization;
// sw_convert.c: half/bf16 conversions; sw_bf16.c: bf16 matmul) and the per-level kernels
// (sw_qpack.c: portable packer and scalar packed-tile kernel; sw_quant_avx2.c, sw_bf16_avx2.c,
// sw_quant_avxvnni.c, sw_quant_avx512.c). Not part of the module's API.
#include "sw_quant.h"

#include <stddef.h>
#include <stdint.h>

/// Rows per packed tile (see the layout in sw_quant.h).
#define SW_QTILE 32

/// Bytes of one packed block record of 32 rows (1088, 576 or 640). Inline: the kernels'
/// address arithmetic folds it per format.
static inline size_t swi_qrec_bytes(sw_qtype t) {
    return t == SW_QTYPE_Q8_0 ? 1088 : t == SW_QTYPE_Q4_0 ? 576 : 640;
}

/// The float update of one block, shared by every scalar path so that they agree bit for bit:
/// acc + dw * (dx * isum), then + m * s for Q4_1 (has_m).
static inline float swi_block_update(float acc, float dw, float dx, int32_t isum, int has_m, float mw,
                                     float s) {
    acc += dw * (dx * (float)isum);
    if (has_m) acc += mw * s;
    return acc;
}

/// bf16 -> float (exact).
static inline float swi_bf16_to_f32_1(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}

// Portable (sw_quant_ref.c, sw_qpack.c).
/// Rows [n0, n1) of Y for all m activation rows, from W's block rows as stored.
void swi_qrows_ref(sw_qtype type, const uint8_t *W, int n0, int n1, int K, const uint8_t *Xq, int m,
                   float *Y, size_t ldy);
void swi_qpack_scalar(sw_qtype fmt, const uint8_t *W, int N, int K, uint8_t *out);
void swi_qtile_scalar(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                      float *Y, size_t ldy);

// AVX2 + FMA + F16C (sw_quant_avx2.c, sw_bf16_avx2.c).
void swi_qtile_avx2(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                    float *Y, size_t ldy, const uint8_t *pf, size_t pf_bytes);
void swi_quantize_q8a_avx2(const float *x, size_t ldx, int m, int k, void *out);
void swi_bf16_rows_avx2(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                        float *Y, size_t ldy, int rows_after);
void swi_f32_to_bf16_avx2(const float *x, uint16_t *y, size_t n);
void swi_bf16_to_f32_avx2(const uint16_t *x, float *y, size_t n);
void swi_f16_to_f32_avx2(const uint16_t *x, float *y, size_t n);
void swi_f32_to_f16_avx2(const float *x, uint16_t *y, size_t n);

// K chunks of the AVX2-level tiles, shared by both variants because they fix each row's float
// sums: the fewest chunks of at most SWI_AVX2_KCB4 (Q4) or SWI_AVX2_KCB8 (Q8_0) blocks, balanced,
// so that K = 576 is one Q4 chunk of 18 and two Q8_0 chunks of 9 rather than 16 + 2 and 8 + 8 + 2:
// each chunk costs every activation row a pass over its outputs (a call, 4 loads, adds, stores),
// and a 2-block chunk pays that for only 2 blocks of work (1536 x 576, one thread, m = 32 / 256:
// Q4_1 +4 / +5%, Q8_0 +3 / +4%). The caps keep a chunk's scratch in a 32 KB L1 (18 x 1280 bytes
// of widened Q4, 9 x 2176 of the plain AVX2 variant's widened Q8_0).
#define SWI_AVX2_KCB4 18
#define SWI_AVX2_KCB8 9
static inline int swi_avx2_chunks(sw_qtype t, int nb) {
    const int cap = t == SW_QTYPE_Q8_0 ? SWI_AVX2_KCB8 : SWI_AVX2_KCB4;
    return (nb + cap - 1) / cap;
}
// Blocks of chunk c of nch over nb blocks: the first nb % nch chunks take one more.
static inline int swi_chunk_blocks(int nb, int nch, int c) { return nb / nch + (c < nb % nch); }

// AVX-VNNI variant of swi_qtile_avx2, bit-identical to it (sw_quant_avxvnni.c). The variant is
// read once on the calling thread (it includes a per-thread test hook) and passed to workers.
enum { SWI_VNNI_NONE = 0, SWI_VNNI_VEX = 1, SWI_VNNI_EVEX = 2 };
int swi_avx2_vnni_variant(void);
void swi_qtile_avxvnni(int variant, sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                       float *Y, size_t ldy, const uint8_t *pf);

// AVX-512 VNNI + BF16 (sw_quant_avx512.c).
void swi_quantize_q8a_avx512(const float *x, size_t ldx, int m, int k, void *out);
void swi_qtile_avx512(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                      float *Y, size_t ldy, const uint8_t *pf, size_t pf_bytes);
void swi_qpack_avx512(sw_qtype fmt, const uint8_t *W, int N, int K, uint8_t *out);
void swi_bf16_rows_avx512(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                          float *Y, size_t ldy, int rows_after);
void swi_f32_to_bf16_avx512(const float *x, uint16_t *y, size_t n);
void swi_bf16_to_f32_avx512(const uint16_t *x, float *y, size_t n);
void swi_f16_to_f32_avx512(const uint16_t *x, float *y, size_t n);
void swi_f32_to_f16_avx512(const float *x, uint16_t *y, size_t n);
