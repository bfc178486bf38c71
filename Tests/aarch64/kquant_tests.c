// The Q5_0 / Q5_1 / K-quant matmuls (sw_kquant.h) at the NEON level against the scalar level of the same
// library, single- and multi-threaded, and batch invariance (a row's result is the same bits
// whether it is computed alone or inside a batch). Run with dotprod on and off (kernel_tests.c).
#include <stdlib.h>
#include "check.h"
#include "sw_kquant.h"
#include "sw_pool.h"
#include "sw_quant.h"

static const char *const kq_name[] = {"Q5_0", "Q4_K", "Q5_K", "Q6_K", "Q5_1", "Q2_K", "Q3_K"};

// Random GGUF blocks: random quants, high bits and sub-block scales; small positive d (and dmin).
static uint8_t *kq_weights(uint64_t *s, sw_kqtype t, int N, int K) {
    const size_t bb = sw_kqtype_block_bytes(t), nblk = (size_t)N * (size_t)(K / sw_kqtype_block_elements(t));
    uint8_t *w = malloc(bb * nblk);
    for (size_t b = 0; b < nblk; b++) {
        uint8_t *p = w + b * bb;
        for (size_t j = 0; j < bb; j++) p[j] = (uint8_t)rng_next(s);
        const uint16_t d = sw_f32_to_f16_1(0.0005f + fabsf(rng_f(s, 0.002f)));
        const uint16_t dmin = sw_f32_to_f16_1(fabsf(rng_f(s, 0.001f)));
        const size_t at = t == SW_KQ_Q6_K ? 208 : t == SW_KQ_Q2_K ? 80 : t == SW_KQ_Q3_K ? 108 : 0;
        memcpy(p + at, &d, 2);
        if (t == SW_KQ_Q4_K || t == SW_KQ_Q5_K || t == SW_KQ_Q5_1 || t == SW_KQ_Q2_K) memcpy(p + at + 2, &dmin, 2);
    }
    return w;
}

static void run_kq(sw_pool *pool) {
    uint64_t s = 0x5eed0a01;
    const int N = 70, K = 768, M = 37;  // N: two full 32-row tiles and a partial one
    float *x = malloc((size_t)M * K * 4);
    fill(&s, x, (size_t)M * K, 1.0f);
    uint8_t *xq = malloc(sw_q8a_row_bytes(K) * M);
    sw_quantize_rows_q8a(x, K, M, K, xq);
    float *ref = malloc((size_t)M * N * 4), *y = malloc((size_t)M * N * 4), *one = malloc((size_t)N * 4);
    char what[160];
    for (int t = 0; t < 7; t++) {
        uint8_t *w = kq_weights(&s, (sw_kqtype)t, N, K);
        const size_t pb = sw_kqpack_bytes((sw_kqtype)t, N, K);
        void *P = aligned_alloc(64, (pb + 63) & ~(size_t)63);
        sw_kqpack((sw_kqtype)t, w, N, K, P);
        use_level(SW_ISA_SCALAR);
        sw_gemm_kqp(NULL, (sw_kqtype)t, P, N, K, xq, M, ref, N);
        use_level(SW_ISA_NEON);
        sw_gemm_kqp(pool, (sw_kqtype)t, P, N, K, xq, M, y, N);
        snprintf(what, sizeof what, "sw_gemm_kqp %s m=%d threads %d vs scalar", kq_name[t], M, pool ? sw_pool_size(pool) : 1);
        check_close(y, ref, (size_t)M * N, 1e-5, what);
        for (int r = 0; r < M; r += 12) {
            sw_gemm_kqp(pool, (sw_kqtype)t, P, N, K, xq + sw_q8a_row_bytes(K) * r, 1, one, N);
            snprintf(what, sizeof what, "sw_gemm_kqp %s row %d at m=1 vs inside m=%d", kq_name[t], r, M);
            check_bits(one, y + (size_t)r * N, (size_t)N * 4, what);
        }
        use_level(-1);
        free(w);
        free(P);
    }
    free(x); free(xq); free(ref); free(y); free(one);
}

void test_kquant(void) {
    sw_pool *pool = sw_pool_create(3);
    run_kq(NULL);
    run_kq(pool);
    sw_pool_destroy(pool);
}
