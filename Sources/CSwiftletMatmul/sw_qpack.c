// The packed weight layout in portable C: the packer every level without a faster one uses
// (its bytes are identical to the AVX-512 packer's), and the scalar kernel that reads packed
// tiles, so that one packed copy serves every level (see the layout in sw_quant.h).
#include "sw_quant.h"
#include "sw_quant_impl.h"

#include <string.h>

void swi_qpack_scalar(sw_qtype fmt, const uint8_t *W, int N, int K, uint8_t *out) {
    const int nb = K / 32;
    const size_t bb = sw_qtype_block_bytes(fmt), rb = bb * (size_t)nb, rec = swi_qrec_bytes(fmt);
    const int q8 = fmt == SW_QTYPE_Q8_0;
    const size_t qoff = q8 ? 2 : fmt == SW_QTYPE_Q4_0 ? 2 : 4;  // qs within a block
    const int ngroups = q8 ? 8 : 4;                              // dword groups of qs bytes
    const size_t doff = q8 ? 1024 : 512;                         // f16 scales within a record
    for (int n0 = 0; n0 < N; n0 += SW_QTILE) {
        uint8_t *tile = out + (size_t)(n0 / SW_QTILE) * (size_t)nb * rec;
        for (int b = 0; b < nb; b++) {
            uint8_t *r = tile + (size_t)b * rec;
            for (int row = 0; row < SW_QTILE; row++) {
                // Rows past N pack as zero blocks (scale 0): the kernels always read 32 rows.
                static const uint8_t zero[34];
                const uint8_t *wb = n0 + row < N ? W + (size_t)(n0 + row) * rb + (size_t)b * bb : zero;
                for (int g = 0; g < ngroups; g++)
                    for (int c = 0; c < 4; c++)
                        r[g * 128 + row * 4 + c] = (uint8_t)(wb[qoff + 4 * g + c] ^ (q8 ? 0x80 : 0));
                memcpy(r + doff + 2 * row, wb, 2);
                if (fmt == SW_QTYPE_Q4_1) memcpy(r + 576 + 2 * row, wb + 2, 2);
            }
        }
    }
}

// One packed tile, nrows (<= 32) real rows, all m activation rows; Y points at the tile's first
// output column and holds the running sums. Same arithmetic as the unpacked reference
// (sw_quant_ref.c), bit for bit: every (row, activation) sum goes through the blocks in order.
void swi_qtile_scalar(sw_qtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m,
                      float *Y, size_t ldy) {
    const int nb = K / 32;
    const size_t rec = swi_qrec_bytes(t), xrb = sw_q8a_row_bytes(K);
    const size_t doff = t == SW_QTYPE_Q8_0 ? 1024 : 512;
    for (int i = 0; i < m; i++)
        for (int row = 0; row < nrows; row++) Y[(size_t)i * ldy + row] = 0.0f;
    for (int b = 0; b < nb; b++) {
        const uint8_t *r = P + (size_t)b * rec;
        float dw[SW_QTILE], mw[SW_QTILE];
        for (int row = 0; row < nrows; row++) {
            uint16_t h;
            memcpy(&h, r + doff + 2 * row, 2);
            dw[row] = sw_f16_to_f32_1(h);
            if (t == SW_QTYPE_Q4_1) memcpy(&h, r + 576 + 2 * row, 2);
            mw[row] = t == SW_QTYPE_Q4_1 ? sw_f16_to_f32_1(h) : 0.0f;
        }
        for (int i = 0; i < m; i++) {
            const uint8_t *xr = Xq + (size_t)i * xrb;
            const sw_block_q8a *xb = (const sw_block_q8a *)xr + b;
            const int8_t *x = xb->qs;
            int32_t isum[SW_QTILE] = {0};
            if (t == SW_QTYPE_Q8_0) {
                for (int g = 0; g < 8; g++) {
                    const uint8_t *rg = r + g * 128;
                    const int32_t x0 = x[4 * g], x1 = x[4 * g + 1], x2 = x[4 * g + 2], x3 = x[4 * g + 3];
                    for (int row = 0; row < SW_QTILE; row++)
                        isum[row] += (int8_t)(rg[4 * row] ^ 0x80) * x0 + (int8_t)(rg[4 * row + 1] ^ 0x80) * x1 +
                                     (int8_t)(rg[4 * row + 2] ^ 0x80) * x2 + (int8_t)(rg[4 * row + 3] ^ 0x80) * x3;
                }
            } else {
                // Record dword g of a row holds elements 4g.. (low nibbles) and 16 + 4g.. (high).
                for (int g = 0; g < 4; g++) {
                    const uint8_t *rg = r + g * 128;
                    const int8_t *xl = x + 4 * g, *xh = x + 16 + 4 * g;
                    for (int row = 0; row < SW_QTILE; row++) {
                        const uint8_t *q = rg + 4 * row;
                        isum[row] += (q[0] & 0xF) * xl[0] + (q[1] & 0xF) * xl[1] + (q[2] & 0xF) * xl[2] +
                                     (q[3] & 0xF) * xl[3] + (q[0] >> 4) * xh[0] + (q[1] >> 4) * xh[1] +
                                     (q[2] >> 4) * xh[2] + (q[3] >> 4) * xh[3];
                    }
                }
            }
            if (t == SW_QTYPE_Q4_0) {
                const int32_t off = 8 * ((const int32_t *)(xr + (size_t)nb * sizeof(sw_block_q8a)))[b];
                for (int row = 0; row < SW_QTILE; row++) isum[row] -= off;
            }
            float *y = Y + (size_t)i * ldy;
            for (int row = 0; row < nrows; row++)
                y[row] = swi_block_update(y[row], dw[row], xb->d, isum[row], t == SW_QTYPE_Q4_1, mw[row], xb->s);
        }
    }
}
