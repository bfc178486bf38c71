#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sw_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------------------------
// Weight formats: GGML block layouts exactly as stored in GGUF files. A weight matrix is N rows
// of K elements (K % 32 == 0), each row stored as K/32 consecutive blocks, rows back to back.
// ---------------------------------------------------------------------------------------------

/// Q8_0 block: value[j] = d * qs[j].
typedef struct {
    uint16_t d;  // IEEE half
    int8_t qs[32];
} sw_block_q8_0;

/// Q4_0 block: value[j] = d * ((qs[j] & 0xF) - 8), value[j + 16] = d * ((qs[j] >> 4) - 8), j < 16.
typedef struct {
    uint16_t d;  // IEEE half
    uint8_t qs[16];
} sw_block_q4_0;

/// Q4_1 block: value[j] = d * (qs[j] & 0xF) + m, value[j + 16] = d * (qs[j] >> 4) + m, j < 16.
typedef struct {
    uint16_t d;  // IEEE half
    uint16_t m;  // IEEE half
    uint8_t qs[16];
} sw_block_q4_1;

/// Weight format selector for the generic entry points.
typedef enum {
    SW_QTYPE_Q8_0 = 0,
    SW_QTYPE_Q4_0 = 1,
    SW_QTYPE_Q4_1 = 2,
} sw_qtype;

/// Bytes of one 32-element block of `type` (34, 18 or 20).
size_t sw_qtype_block_bytes(sw_qtype type);

// ---------------------------------------------------------------------------------------------
// Quantized activations (our own layout). Each row of k elements is k/32 `sw_block_q8a`
// followed by k/32 int32 block sums (sum of qs) that the kernels use for offset corrections.
// Use sw_q8a_row_bytes for the row stride; never assume sizeof(sw_block_q8a) * k / 32.
// ---------------------------------------------------------------------------------------------

/// Activation block: value[j] = d * qs[j]; s = d * sum(qs). |qs| <= 127.
typedef struct {
    float d;
    float s;
    int8_t qs[32];
} sw_block_q8a;

/// Bytes per quantized activation row of k elements (k % 32 == 0).
size_t sw_q8a_row_bytes(int k);

/// Quantizes m rows of k floats (row stride ldx elements) into `out`, rows
/// sw_q8a_row_bytes(k) apart. Scale per block is max|x| / 127, rounding to nearest even.
void sw_quantize_rows_q8a(const float *x, size_t ldx, int m, int k, void *out);

// ---------------------------------------------------------------------------------------------
// Small-batch matmul against quantized weights:
//     Y[i*ldy + n] = sum_k W[n][k] * X[i][k]    for i < m, n < N
// W: N rows of K in the given format. Xq: m rows from sw_quantize_rows_q8a(…, k = K, …).
// Work is split over N across the pool's threads; pool may be NULL (single thread).
// Any N >= 0 and m >= 0 are accepted; K must be a multiple of 32.
// ---------------------------------------------------------------------------------------------

void sw_gemm_q8_0(sw_pool *pool, const void *W, int N, int K, const void *Xq, int m, float *Y,
                  size_t ldy);
void sw_gemm_q4_0(sw_pool *pool, const void *W, int N, int K, const void *Xq, int m, float *Y,
                  size_t ldy);
void sw_gemm_q4_1(sw_pool *pool, const void *W, int N, int K, const void *Xq, int m, float *Y,
                  size_t ldy);
/// Dispatches to one of the three functions above.
void sw_gemm_q(sw_pool *pool, sw_qtype type, const void *W, int N, int K, const void *Xq, int m,
               float *Y, size_t ldy);

// ---------------------------------------------------------------------------------------------
// Packed weights. The SIMD kernels consume weights "vertically" (one 32-bit lane per weight row,
// 4 consecutive k per lane), so rows are regrouped once at load into 32-row tiles. The layout is
// the same for every level and architecture (the scalar kernel reads it too), and packed weights
// take the same memory as the GGUF blocks.
//
//   Tile t (rows 32t .. 32t+31) = K/32 block records, tiles back to back; record b holds block b
//   (elements 32b .. 32b+31) of the tile's 32 rows. Rows past N are zero blocks (scale 0).
//   Byte (g, r, c) below is at offset g * 128 + r * 4 + c (group g, row r < 32, c < 4).
//   Q8_0 record, 1088 bytes:
//     [0, 1024)     byte (g, r, c) = qs[4g + c] ^ 0x80 of row r, g < 8 (w + 128 as unsigned;
//                   xor 0x80 again for the signed value)
//     [1024, 1088)  row r's f16 d at 1024 + 2r
//   Q4_0 record, 576 bytes / Q4_1 record, 640 bytes:
//     [0, 512)      byte (g, r, c) = qs[4g + c] of row r, g < 4, unchanged: its low nibble is
//                   element 4g + c and its high nibble element 16 + 4g + c
//     [512, 576)    row r's f16 d at 512 + 2r
//     [576, 640)    Q4_1 only: row r's f16 m at 576 + 2r
// ---------------------------------------------------------------------------------------------

/// Bytes of the packed form of N rows of K elements (0 when N or K is not positive).
size_t sw_qpack_bytes(sw_qtype type, int N, int K);

/// Packs N rows of K elements (W, rows stored back to back) into `out` (sw_qpack_bytes bytes,
/// 64-byte aligned). The bytes do not depend on the level that packs them.
void sw_qpack(sw_qtype type, const void *W, int N, int K, void *out);

/// sw_gemm_q with the packed copy P of W (or NULL). Given P, the kernel of the caller's level
/// reads it (every level has one), so W may then be NULL. Without P, the x86 SIMD levels pack
/// W into a temporary; the scalar and NEON levels read W's rows.
/// Each output row's result depends only on its activation row and the weights: it is the same,
/// bit for bit, in any batch (m) and with any number of threads, at every level.
void sw_gemm_qp(sw_pool *pool, sw_qtype type, const void *W, const void *P, int N, int K,
                const void *Xq, int m, float *Y, size_t ldy);

/// Reference implementation of the same quantized arithmetic (scalar, single thread), used by
/// tests and as the portable fallback. Results agree with the SIMD path up to float rounding.
void sw_gemm_q_ref(sw_qtype type, const void *W, int N, int K, const void *Xq, int m, float *Y,
                   size_t ldy);

/// Dequantizes `rows` rows of K elements of `type` into floats (row stride ldy elements).
void sw_dequantize_rows(sw_qtype type, const void *W, int rows, int K, float *Y, size_t ldy);

// ---------------------------------------------------------------------------------------------
// BF16 weights:  Y[i*ldy + n] = sum_k W[n][k] * X[i*ldx + k], W is N rows of K bf16 values.
// Activations stay f32 (weights are widened exactly), products accumulate in float.
// Any K >= 0 is accepted (tails are zero-padded internally).
// ---------------------------------------------------------------------------------------------

void sw_gemm_bf16(sw_pool *pool, const uint16_t *W, int N, int K, const float *X, size_t ldx,
                  int m, float *Y, size_t ldy);

// ---------------------------------------------------------------------------------------------
// Row converters (bit-exact between SIMD and scalar paths).
// ---------------------------------------------------------------------------------------------

/// float -> bf16, round to nearest even; NaN stays NaN (quieted); subnormals are kept.
void sw_f32_to_bf16(const float *x, uint16_t *y, size_t n);
/// bf16 -> float (exact).
void sw_bf16_to_f32(const uint16_t *x, float *y, size_t n);
/// IEEE half -> float (exact; NaNs come out quiet).
void sw_f16_to_f32(const uint16_t *x, float *y, size_t n);
/// float -> IEEE half, round to nearest even, overflow to infinity.
void sw_f32_to_f16(const float *x, uint16_t *y, size_t n);

/// Scalar half <-> float conversions.
float sw_f16_to_f32_1(uint16_t h);
uint16_t sw_f32_to_f16_1(float f);
/// Round-to-nearest-even float -> bf16 and back for one row (NEON or scalar; the oneDNN wrapper
/// converts its activations with the first).
void sw_f32_to_bf16_row(const float *x, uint16_t *y, size_t n);
void sw_bf16_to_f32_row(const uint16_t *x, float *y, size_t n);

#ifdef __cplusplus
}
#endif
