// Scalar reference of the quantized matmul on the GGUF block rows as stored (no packing): the
// arithmetic every level mirrors, the portable path for unpacked weights, and dequantization.
#include "sw_quant.h"
#include "sw_quant_impl.h"

#include <string.h>

size_t sw_qtype_block_bytes(sw_qtype type) {
    switch (type) {
        case SW_QTYPE_Q8_0: return sizeof(sw_block_q8_0);
        case SW_QTYPE_Q4_0: return sizeof(sw_block_q4_0);
        case SW_QTYPE_Q4_1: return sizeof(sw_block_q4_1);
    }
    return 0;
}

// Rows [n0, n1) of Y for all m activation rows. Mirrors the SIMD arithmetic: an exact integer
// dot product per block, then  acc += dw * (dx * isum)  (+ m * s for Q4_1).
void swi_qrows_ref(sw_qtype type, const uint8_t *W, int n0, int n1, int K, const uint8_t *Xq, int m,
                   float *Y, size_t ldy) {
    const int nb = K / 32;
    const size_t bb = sw_qtype_block_bytes(type);
    const size_t rb = bb * (size_t)nb;
    const size_t xrb = sw_q8a_row_bytes(K);
    for (int n = n0; n < n1; n++) {
        const uint8_t *wr = W + (size_t)n * rb;
        for (int i = 0; i < m; i++) {
            const sw_block_q8a *xb = (const sw_block_q8a *)(Xq + (size_t)i * xrb);
            float acc = 0.0f;
            for (int b = 0; b < nb; b++) {
                const uint8_t *wb = wr + (size_t)b * bb;
                const int8_t *xq = xb[b].qs;
                int32_t isum = 0;
                uint16_t dh;
                memcpy(&dh, wb, 2);
                const float dw = sw_f16_to_f32_1(dh);
                switch (type) {
                    case SW_QTYPE_Q8_0: {
                        const int8_t *q = (const int8_t *)(wb + 2);
                        for (int j = 0; j < 32; j++) isum += (int32_t)q[j] * xq[j];
                        acc = swi_block_update(acc, dw, xb[b].d, isum, 0, 0.0f, 0.0f);
                        break;
                    }
                    case SW_QTYPE_Q4_0: {
                        const uint8_t *q = wb + 2;
                        for (int j = 0; j < 16; j++) {
                            isum += ((int32_t)(q[j] & 0xF) - 8) * xq[j];
                            isum += ((int32_t)(q[j] >> 4) - 8) * xq[j + 16];
                        }
                        acc = swi_block_update(acc, dw, xb[b].d, isum, 0, 0.0f, 0.0f);
                        break;
                    }
                    case SW_QTYPE_Q4_1: {
                        uint16_t mh;
                        memcpy(&mh, wb + 2, 2);
                        const uint8_t *q = wb + 4;
                        for (int j = 0; j < 16; j++) {
                            isum += (int32_t)(q[j] & 0xF) * xq[j];
                            isum += (int32_t)(q[j] >> 4) * xq[j + 16];
                        }
                        acc = swi_block_update(acc, dw, xb[b].d, isum, 1, sw_f16_to_f32_1(mh), xb[b].s);
                        break;
                    }
                }
            }
            Y[(size_t)i * ldy + n] = acc;
        }
    }
}

void sw_gemm_q_ref(sw_qtype type, const void *W, int N, int K, const void *Xq, int m, float *Y,
                   size_t ldy) {
    if (N <= 0 || m <= 0) return;
    swi_qrows_ref(type, (const uint8_t *)W, 0, N, K, (const uint8_t *)Xq, m, Y, ldy);
}

void sw_dequantize_rows(sw_qtype type, const void *W, int rows, int K, float *Y, size_t ldy) {
    const int nb = K / 32;
    const size_t bb = sw_qtype_block_bytes(type);
    for (int r = 0; r < rows; r++) {
        const uint8_t *wr = (const uint8_t *)W + (size_t)r * bb * (size_t)nb;
        float *y = Y + (size_t)r * ldy;
        for (int b = 0; b < nb; b++) {
            const uint8_t *wb = wr + (size_t)b * bb;
            uint16_t dh, mh;
            memcpy(&dh, wb, 2);
            const float d = sw_f16_to_f32_1(dh);
            float *yb = y + 32 * b;
            switch (type) {
                case SW_QTYPE_Q8_0:
                    for (int j = 0; j < 32; j++) yb[j] = d * (float)((const int8_t *)(wb + 2))[j];
                    break;
                case SW_QTYPE_Q4_0:
                    for (int j = 0; j < 16; j++) {
                        yb[j] = d * (float)((int)(wb[2 + j] & 0xF) - 8);
                        yb[j + 16] = d * (float)((int)(wb[2 + j] >> 4) - 8);
                    }
                    break;
                case SW_QTYPE_Q4_1:
                    memcpy(&mh, wb + 2, 2);
                    for (int j = 0; j < 16; j++) {
                        yb[j] = d * (float)(wb[4 + j] & 0xF) + sw_f16_to_f32_1(mh);
                        yb[j + 16] = d * (float)(wb[4 + j] >> 4) + sw_f16_to_f32_1(mh);
                    }
                    break;
            }
        }
    }
}
