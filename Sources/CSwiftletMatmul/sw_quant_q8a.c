// Activation quantization to q8a rows (sw_quant.h): the scalar definition, which every level's
// SIMD version reproduces bit for bit, and the dispatch to the caller's level.
#include "sw_quant.h"
#include "sw_cpu.h"
#include "sw_quant_impl.h"
#include "sw_quant_neon.h"

#include <math.h>

size_t sw_q8a_row_bytes(int k) {
    size_t nb = (size_t)(k / 32);
    return nb * sizeof(sw_block_q8a) + nb * sizeof(int32_t);
}

void sw_quantize_rows_q8a(const float *x, size_t ldx, int m, int k, void *out) {
    if (m <= 0 || k <= 0) return;
    const int level = sw_cpu_level();
    if (level == SW_ISA_AVX512) { swi_quantize_q8a_avx512(x, ldx, m, k, out); return; }
    if (level == SW_ISA_AVX2) { swi_quantize_q8a_avx2(x, ldx, m, k, out); return; }
#if defined(__aarch64__)
    if (level == SW_ISA_NEON) { swi_quantize_q8a_neon(x, ldx, m, k, out); return; }
#endif
    const int nb = k / 32;
    const size_t rbytes = sw_q8a_row_bytes(k);
    for (int i = 0; i < m; i++) {
        uint8_t *row = (uint8_t *)out + (size_t)i * rbytes;
        sw_block_q8a *blk = (sw_block_q8a *)row;
        int32_t *sums = (int32_t *)(row + (size_t)nb * sizeof(sw_block_q8a));
        const float *xr = x + (size_t)i * ldx;
        for (int b = 0; b < nb; b++) {
            const float *xb = xr + 32 * b;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
            // Keep this exact sequence of operations: the SIMD path mirrors it bit for bit.
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            int32_t sum = 0;
            for (int j = 0; j < 32; j++) {
                float v = xb[j] * id;
                int q = (int)lrintf(v);
                blk[b].qs[j] = (int8_t)q;
                sum += q;
            }
            blk[b].d = d;
            blk[b].s = d * (float)sum;
            sums[b] = sum;
        }
    }
}
