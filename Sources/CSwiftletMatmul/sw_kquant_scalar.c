// The scalar Q5_0 / Q5_1 / K-quant tile kernel: the portable level and the plainest statement of the
// arithmetic every level follows (sw_kquant_impl.h).
#include "sw_kquant.h"
#include "sw_kquant_impl.h"

void swi_kqtile_scalar(sw_kqtype t, const uint8_t *P, int nrows, int K, const uint8_t *Xq, int m, float *Y,
                       size_t ldy, const int16_t *xlo) {
    _Alignas(64) uint8_t wq[SWI_KQ_CHUNK * 1024];
    float ds[SWI_KQ_CHUNK * 32], dm[SWI_KQ_HALVES];
    int32_t isc[SWI_KQ_HALVES];
    const int nb = K / 32, rb = swi_kq_rec_blocks(t);
    const size_t rec = swi_kq_rec_bytes(t), xrb = sw_q8a_row_bytes(K);
    for (int b0 = 0; b0 < nb; b0 += SWI_KQ_CHUNK) {
        const int nblk = nb - b0 < SWI_KQ_CHUNK ? nb - b0 : SWI_KQ_CHUNK;
        swi_kq_decode(t, P + (size_t)(b0 / rb) * rec, nblk, wq, ds, dm, isc);
        for (int i = 0; i < m; i++) {
            const uint8_t *xr = Xq + (size_t)i * xrb;
            const sw_block_q8a *xb = (const sw_block_q8a *)xr;
            const int32_t *xsum = (const int32_t *)(xr + (size_t)nb * sizeof(sw_block_q8a));
            float *y = Y + (size_t)i * ldy;
            float acc[32];
            for (int r = 0; r < 32; r++) acc[r] = b0 > 0 && r < nrows ? y[r] : 0.0f;
            for (int bi = 0; bi < nblk; bi++) {
                const int b = b0 + bi;
                const int8_t *x = xb[b].qs;
                const uint8_t *w = wq + bi * 1024;
                for (int r = 0; r < 32; r++) {
                    int32_t lo = 0, hi = 0;
                    for (int g = 0; g < 8; g++) {
                        const uint8_t *q = w + g * 128 + r * 4;
                        const int32_t p = q[0] * x[4 * g] + q[1] * x[4 * g + 1] + q[2] * x[4 * g + 2] + q[3] * x[4 * g + 3];
                        if (g < 4) lo += p;
                        else hi += p;
                    }
                    int32_t a = lo + hi - (t == SW_KQ_Q5_0 ? 16 * xsum[b] : 0), sl = 0, sh = 0;
                    if (swi_kq_has_halves(t)) {
                        sl = xlo[(size_t)i * nb + b];
                        sh = xsum[b] - sl;
                    }
                    if (swi_kq_has_halves(t) && !swi_kq_prescaled(t)) {
                        const int32_t o = swi_kq_half_offset(t);
                        a = isc[(bi * 2) * 32 + r] * (lo - o * sl) + isc[(bi * 2 + 1) * 32 + r] * (hi - o * sh);
                    }
                    acc[r] = __builtin_fmaf(ds[bi * 32 + r], xb[b].d * (float)a, acc[r]);
                    if (swi_kq_has_min(t)) acc[r] = __builtin_fmaf(dm[bi * 32 + r], xb[b].s, acc[r]);
                    if (t == SW_KQ_Q2_K) {
                        acc[r] = __builtin_fmaf(dm[(bi * 2) * 32 + r], xb[b].d * (float)sl, acc[r]);
                        acc[r] = __builtin_fmaf(dm[(bi * 2 + 1) * 32 + r], xb[b].d * (float)sh, acc[r]);
                    }
                }
            }
            for (int r = 0; r < nrows; r++) y[r] = acc[r];
        }
    }
}
