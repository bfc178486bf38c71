// The packer of the Q5_0 / K-quant tiles (layout in sw_kquant.h): portable C, the same bytes at
// every level. Runs once per weight at load.
#include "sw_kquant.h"
#include "sw_kquant_impl.h"

#include <string.h>

int sw_kqtype_block_elements(sw_kqtype type) { return swi_kq_is_q5x(type) ? 32 : 256; }

size_t sw_kqtype_block_bytes(sw_kqtype type) {
    switch (type) {
        case SW_KQ_Q5_0: return 22;
        case SW_KQ_Q5_1: return 24;
        case SW_KQ_Q4_K: return 144;
        case SW_KQ_Q5_K: return 176;
        case SW_KQ_Q6_K: return 210;
        case SW_KQ_Q2_K: return 84;
        case SW_KQ_Q3_K: return 110;
    }
    return 0;
}

size_t sw_kqpack_bytes(sw_kqtype type, int N, int K) {
    if (N <= 0 || K <= 0) return 0;
    const size_t nblocks = (size_t)(K / sw_kqtype_block_elements(type));
    return (size_t)((N + 31) / 32) * nblocks * swi_kq_rec_bytes(type);
}

// `n` bytes starting at src as dword groups of row r: dst[g * 128 + r * 4 + c] = src[4g + c].
static void put_groups(uint8_t *dst, const uint8_t *src, int n, int r) {
    for (int g = 0; g < n / 4; g++) memcpy(dst + g * 128 + r * 4, src + 4 * g, 4);
}

// One GGUF block `wb` as row r of the record `rec`.
static void pack_block(sw_kqtype t, const uint8_t *wb, int r, uint8_t *rec) {
    switch (t) {
        case SW_KQ_Q5_0:
        case SW_KQ_Q5_1: {
            const int q51 = t == SW_KQ_Q5_1;
            put_groups(rec, wb + (q51 ? 8 : 6), 16, r);
            uint32_t qh;
            memcpy(&qh, wb + (q51 ? 4 : 2), 4);
            for (int c = 0; c < 4; c++) {
                uint8_t v = 0;
                for (int g = 0; g < 4; g++) {
                    v |= (uint8_t)(((qh >> (4 * g + c)) & 1) << g);
                    v |= (uint8_t)(((qh >> (16 + 4 * g + c)) & 1) << (4 + g));
                }
                rec[512 + r * 4 + c] = v;
            }
            memcpy(rec + 640 + 2 * r, wb, 2);
            if (q51) memcpy(rec + 704 + 2 * r, wb + 2, 2);
            break;
        }
        case SW_KQ_Q4_K:
        case SW_KQ_Q5_K: {
            const int q5 = t == SW_KQ_Q5_K;
            const uint8_t *qs = wb + (q5 ? 48 : 16);
            for (int p = 0; p < 4; p++) put_groups(rec + p * 1024, qs + 32 * p, 32, r);
            if (q5) put_groups(rec + 4096, wb + 16, 32, r);
            uint8_t *s = rec + (q5 ? 5120 : 4096);
            put_groups(s, wb + 4, 12, r);
            memcpy(s + 384 + 2 * r, wb, 2);
            memcpy(s + 448 + 2 * r, wb + 2, 2);
            break;
        }
        case SW_KQ_Q2_K:
        case SW_KQ_Q3_K: {
            const int q3 = t == SW_KQ_Q3_K;
            for (int h = 0; h < 2; h++) put_groups(rec + h * 1024, wb + (q3 ? 32 : 16) + 32 * h, 32, r);
            if (q3) {
                put_groups(rec + 2048, wb, 32, r);
                put_groups(rec + 3072, wb + 96, 12, r);
                memcpy(rec + 3456 + 2 * r, wb + 108, 2);
            } else {
                put_groups(rec + 2048, wb, 16, r);
                memcpy(rec + 2560 + 2 * r, wb + 80, 2);
                memcpy(rec + 2624 + 2 * r, wb + 82, 2);
            }
            break;
        }
        case SW_KQ_Q6_K:
            for (int h = 0; h < 2; h++) {
                for (int u = 0; u < 2; u++) put_groups(rec + h * 2048 + u * 1024, wb + 64 * h + 32 * u, 32, r);
                put_groups(rec + 4096 + h * 1024, wb + 128 + 32 * h, 32, r);
            }
            put_groups(rec + 6144, wb + 192, 16, r);
            memcpy(rec + 6656 + 2 * r, wb + 208, 2);
            break;
    }
}

void sw_kqpack(sw_kqtype type, const void *W, int N, int K, void *out) {
    const size_t total = sw_kqpack_bytes(type, N, K);
    if (total == 0) return;
    // Rows past N stay zero: zero quants and scales, so they contribute nothing.
    memset(out, 0, total);
    const int nb = K / sw_kqtype_block_elements(type);
    const size_t bb = sw_kqtype_block_bytes(type), rb = bb * (size_t)nb, rec = swi_kq_rec_bytes(type);
    for (int n = 0; n < N; n++) {
        uint8_t *tile = (uint8_t *)out + (size_t)(n / 32) * (size_t)nb * rec;
        const uint8_t *wr = (const uint8_t *)W + (size_t)n * rb;
        for (int b = 0; b < nb; b++) pack_block(type, wr + (size_t)b * bb, n % 32, tile + (size_t)b * rec);
    }
}
