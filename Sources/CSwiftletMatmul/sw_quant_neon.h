// aarch64 NEON converters, quantized tiles and bf16 rows (sw_convert_neon.c, sw_quant_neon.c,
// sw_quant_neon_i8mm.c) behind the portable entry points. Internal header, not part of the
// module's API. `dotprod` is sw_cpu_use_neon_dotprod() (a process-wide switch).
#pragma once
#if defined(__aarch64__)
#include <stddef.h>
#include <stdint.h>
#include "sw_neon.h"
#include "sw_quant.h"

// sw_convert_neon.c
void swi_f32_to_bf16_neon(const float *x, uint16_t *y, size_t n);
void swi_bf16_to_f32_neon(const uint16_t *x, float *y, size_t n);
void swi_f16_to_f32_neon(const uint16_t *x, float *y, size_t n);
void swi_f32_to_f16_neon(const float *x, uint16_t *y, size_t n);
void swi_quantize_q8a_neon(const float *x, size_t ldx, int m, int k, void *out);

// sw_quant_neon.c
// Rows [n0, n1) of Y from unpacked GGUF rows W, like the scalar reference (same per-block
// float order, so results match it to rounding and do not depend on m).
void swi_qrows_neon(sw_qtype type, const uint8_t *W, int n0, int n1, int K, const uint8_t *Xq,
                    int m, float *Y, size_t ldy, int dotprod);
// One packed 32-row tile (P: its K/32 records; see sw_qpack.c), nrows of them real; Y points at
// the tile's first output column.
void swi_qtile_neon(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                    float *Y, size_t ldy, int dotprod);
// i8mm (sw_quant_neon_i8mm.c): swi_qtile_neon's results bit for bit; needs dotprod and i8mm.
// Pairs of activation rows; an odd last row (or m = 1) goes to the sdot kernel. The dispatch
// takes it from SWI_I8MM_MIN_M rows on: per block it rearranges the tile's weights once (about
// 190 vector loads, zips and stores for Q8_0) and then costs 128 instructions per pair against
// the sdot kernel's 256, so by count it wins from about 4 rows (not measured on hardware).
#define SWI_I8MM_MIN_M 4
void swi_qtile_neon_i8mm(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                         float *Y, size_t ldy);
// One bf16 tile (nrows rows of K) against the [16 even | 16 odd]-split activations Xs.
void swi_bf16_rows_neon(const uint16_t *W, int K, int nrows, const float *Xs, int Kp, int m,
                        float *Y, size_t ldy);
#endif
