#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sw_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------------------------
// Matmuls on weights in GGML's Q5_0, Q5_1 and K-quant formats (Q2_K ... Q6_K), packed once at load
// into 32-row tiles of the same size as the file's blocks, against q8a activations (sw_quant.h).
// Y[i*ldy + n] = sum_k W[n][k] * X[i][k], like sw_gemm_qp.
//
// GGUF blocks (elements per block, bytes): Q5_0 (32, 22): f16 d, u32 qh, u8 qs[16];
// Q5_1 (32, 24): f16 d, f16 m, u32 qh, u8 qs[16];
// Q4_K (256, 144): f16 d, f16 dmin, u8 scales[12], u8 qs[128];
// Q5_K (256, 176): f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128];
// Q6_K (256, 210): u8 ql[128], u8 qh[64], i8 scales[16], f16 d;
// Q2_K (256, 84): u8 scales[16] (low nibble scale, high nibble min), u8 qs[64], f16 d, f16 dmin;
// Q3_K (256, 110): u8 hmask[32], u8 qs[64], u8 scales[12] (6-bit, stored + 32), f16 d.
//
// Packed tile t (rows 32t .. 32t+31) = one record per GGUF block column, records back to back;
// record b holds block b of the tile's 32 rows. Rows past N are zero blocks. Byte (r, c) below
// means offset r * 4 + c (row r < 32, c < 4): each weight row owns one dword lane of every
// 128-byte group, which the SIMD kernels read 8 or 16 rows at a time.
//   Q5_0, 704 bytes:
//     [0, 512)      g * 128 + (r, c) = qs[4g + c], g < 4 (low nibble element 4g + c, high 16 + 4g + c)
//     [512, 640)    512 + (r, c): bit g (g < 4) = bit 4g + c of qh, bit 4 + g = bit 16 + 4g + c
//                   (the fifth bits of the elements of groups g and 4 + g, in their bytes)
//     [640, 704)    row r's f16 d at 640 + 2r
//   Q5_1, 768 bytes: as Q5_0, then row r's f16 m at 704 + 2r
//   Q4_K, 4608 bytes:
//     [0, 4096)     p * 1024 + g * 128 + (r, c) = qs[32p + 4g + c], p < 4, g < 8
//     [4096, 4480)  4096 + i * 128 + (r, c) = scales[4i + c], i < 3 (the 6-bit packing as stored)
//     [4480, 4544)  f16 d at 4480 + 2r;  [4544, 4608) f16 dmin at 4544 + 2r
//   Q5_K, 5632 bytes: qs as Q4_K in [0, 4096); 4096 + g * 128 + (r, c) = qh[4g + c], g < 8;
//     scales at 5120 (as Q4_K's at 4096); f16 d at 5504 + 2r; f16 dmin at 5568 + 2r
//   Q6_K, 6720 bytes:
//     [0, 4096)     h * 2048 + u * 1024 + g * 128 + (r, c) = ql[64h + 32u + 4g + c], h, u < 2, g < 8
//     [4096, 6144)  4096 + h * 1024 + g * 128 + (r, c) = qh[32h + 4g + c]
//     [6144, 6656)  6144 + i * 128 + (r, c) = scales[4i + c], i < 4
//     [6656, 6720)  f16 d at 6656 + 2r
//   Q2_K, 2688 bytes:
//     [0, 2048)     h * 1024 + g * 128 + (r, c) = qs[32h + 4g + c], h < 2, g < 8
//     [2048, 2560)  2048 + i * 128 + (r, c) = scales[4i + c], i < 4
//     [2560, 2624)  f16 d at 2560 + 2r;  [2624, 2688) f16 dmin at 2624 + 2r
//   Q3_K, 3520 bytes: qs as Q2_K in [0, 2048); 2048 + g * 128 + (r, c) = hmask[4g + c], g < 8;
//     3072 + i * 128 + (r, c) = scales[4i + c], i < 3 (the 6-bit packing as stored); f16 d at 3456 + 2r
// The kernels decode a record's quants to bytes 0..63 per element and its scales to floats, then
// run integer dot products per 32-element activation block: a K-quant sub-block of 32 (Q4_K,
// Q5_K) or two of 16 (Q2_K, Q3_K, Q6_K) is one q8a block.
// ---------------------------------------------------------------------------------------------

typedef enum {
    SW_KQ_Q5_0 = 0,
    SW_KQ_Q4_K = 1,
    SW_KQ_Q5_K = 2,
    SW_KQ_Q6_K = 3,
    SW_KQ_Q5_1 = 4,
    SW_KQ_Q2_K = 5,
    SW_KQ_Q3_K = 6,
} sw_kqtype;

/// Elements of one GGUF block (32 for Q5_0 and Q5_1, 256 for the K-quants).
int sw_kqtype_block_elements(sw_kqtype type);
/// Bytes of one GGUF block (22, 144, 176, 210, 24, 84, 110).
size_t sw_kqtype_block_bytes(sw_kqtype type);

/// Bytes of the packed form of N rows of K elements: 32 * block bytes per tile and block, so
/// no more than the file's bytes when N is a multiple of 32. 0 when N or K is not positive.
size_t sw_kqpack_bytes(sw_kqtype type, int N, int K);

/// Packs N rows of K elements (K a multiple of the block's elements; GGUF rows back to back)
/// into `out` (sw_kqpack_bytes bytes, 64-byte aligned). The bytes do not depend on the level.
void sw_kqpack(sw_kqtype type, const void *W, int N, int K, void *out);

/// Y = W X^T for the packed weights P (from sw_kqpack) and m q8a activation rows Xq. Work is
/// split over N across the pool's threads (pool may be NULL). The caller's kernel level picks
/// the kernel. Each output row's result depends only on its activation row and the weights: it
/// is the same, bit for bit, for any m and any number of threads, at each level.
void sw_gemm_kqp(sw_pool *pool, sw_kqtype type, const void *P, int N, int K, const void *Xq, int m,
                 float *Y, size_t ldy);

#ifdef __cplusplus
}
#endif
