// Activation quantization and the quantized / bf16 matmuls at the NEON level against the
// scalar reference, single- and multi-threaded, and batch invariance (a row's result is the
// same bits whether it is computed alone or inside a batch).
#include <stdlib.h>
#include "check.h"
#include "sw_quant_neon.h"
#include "sw_pool.h"
#include "sw_quant.h"
#include "sw_quant_impl.h"

// Random GGUF blocks of `type`: small f16 scales, random quants (and mins for Q4_1).
static uint8_t *random_weights(uint64_t *s, sw_qtype type, int N, int K) {
    const size_t bb = sw_qtype_block_bytes(type), nblk = (size_t)N * (K / 32);
    uint8_t *w = malloc(bb * nblk);
    for (size_t b = 0; b < nblk; b++) {
        uint8_t *p = w + b * bb;
        for (size_t j = 0; j < bb; j++) p[j] = (uint8_t)rng_next(s);
        const uint16_t d = sw_f32_to_f16_1(rng_f(s, 0.02f)), m = sw_f32_to_f16_1(rng_f(s, 0.1f));
        memcpy(p, &d, 2);
        if (type == SW_QTYPE_Q4_1) memcpy(p + 2, &m, 2);
    }
    return w;
}

static void test_quantize(void) {
    uint64_t s = 0x5eed0003;
    const int m = 7, k = 320;
    float *x = malloc((size_t)m * k * 4);
    fill(&s, x, (size_t)m * k, 2.0f);
    for (int j = 0; j < 32; j++) x[64 + j] = 0.0f;         // an all-zero block (scale 0)
    for (int j = 0; j < 32; j++) x[k + 32 + j] *= 1e-30f;  // a tiny one
    const size_t bytes = sw_q8a_row_bytes(k) * m;
    uint8_t *a = calloc(bytes, 1), *b = calloc(bytes, 1), *c = calloc(bytes, 1);
    use_level(SW_ISA_SCALAR);
    sw_quantize_rows_q8a(x, k, m, k, a);
    use_level(SW_ISA_NEON);
    sw_quantize_rows_q8a(x, k, m, k, b);
    swi_quantize_q8a_neon(x, k, m, k, c);
    use_level(-1);
    check_bits(b, a, bytes, "sw_quantize_rows_q8a");
    check_bits(c, a, bytes, "swi_quantize_q8a_neon");
    free(x); free(a); free(b); free(c);
}

static const char *const qname[] = {"Q8_0", "Q4_0", "Q4_1"};

static void test_gemm_q(sw_pool *pool) {
    uint64_t s = 0x5eed0004;
    const int N = 70, K = 256, M = 37;  // N: two full 32-row tiles and a partial one
    float *x = malloc((size_t)M * K * 4);
    fill(&s, x, (size_t)M * K, 1.0f);
    uint8_t *xq = malloc(sw_q8a_row_bytes(K) * M);
    sw_quantize_rows_q8a(x, K, M, K, xq);
    float *ref = malloc((size_t)M * N * 4), *y = malloc((size_t)M * N * 4), *one = malloc((size_t)N * 4);
    char what[160];
    for (int t = 0; t < 3; t++) {
        uint8_t *w = random_weights(&s, (sw_qtype)t, N, K);
        sw_gemm_q_ref((sw_qtype)t, w, N, K, xq, M, ref, N);
        use_level(SW_ISA_NEON);
        sw_gemm_q(pool, (sw_qtype)t, w, N, K, xq, M, y, N);
        snprintf(what, sizeof what, "sw_gemm_q %s m=%d threads %d vs scalar", qname[t], M, pool ? sw_pool_size(pool) : 1);
        check_close(y, ref, (size_t)M * N, 1e-5, what);
        // Batch invariance: row r alone (m = 1) against row r of the m = 37 batch.
        for (int r = 0; r < M; r += 12) {
            sw_gemm_q(pool, (sw_qtype)t, w, N, K, xq + sw_q8a_row_bytes(K) * r, 1, one, N);
            snprintf(what, sizeof what, "sw_gemm_q %s row %d at m=1 vs inside m=%d", qname[t], r, M);
            check_bits(one, y + (size_t)r * N, (size_t)N * 4, what);
        }
        // The packed path, where this build packs for NEON.
        const size_t pb = sw_qpack_bytes((sw_qtype)t, N, K);
        if (pb) {
            void *P = aligned_alloc(64, (pb + 63) & ~(size_t)63);
            sw_qpack((sw_qtype)t, w, N, K, P);
            sw_gemm_qp(pool, (sw_qtype)t, NULL, P, N, K, xq, M, y, N);
            snprintf(what, sizeof what, "sw_gemm_qp %s (packed) vs scalar", qname[t]);
            check_close(y, ref, (size_t)M * N, 1e-5, what);
            free(P);
        }
        // The packed-tile NEON kernel itself on the portable packer's tiles, and its batch invariance.
        const size_t tb = (size_t)(K / 32) * swi_qrec_bytes((sw_qtype)t);
        uint8_t *Pt = malloc(tb * ((N + SW_QTILE - 1) / SW_QTILE));
        swi_qpack_scalar((sw_qtype)t, w, N, K, Pt);
        for (int n0 = 0; n0 < N; n0 += SW_QTILE) {
            const int nr = N - n0 < SW_QTILE ? N - n0 : SW_QTILE;
            swi_qtile_neon((sw_qtype)t, Pt + tb * (n0 / SW_QTILE), nr, K, xq, M, y + n0, N, sw_cpu_use_neon_dotprod());
            swi_qtile_neon((sw_qtype)t, Pt + tb * (n0 / SW_QTILE), nr, K, xq + sw_q8a_row_bytes(K) * 5, 1, one + n0, N,
                           sw_cpu_use_neon_dotprod());
        }
        snprintf(what, sizeof what, "swi_qtile_neon %s vs scalar", qname[t]);
        check_close(y, ref, (size_t)M * N, 1e-5, what);
        snprintf(what, sizeof what, "swi_qtile_neon %s row 5 at m=1 vs inside m=%d", qname[t], M);
        check_bits(one, y + (size_t)5 * N, (size_t)N * 4, what);
        free(Pt);
        // The unpacked NEON kernel itself, over all rows.
        swi_qrows_neon((sw_qtype)t, w, 0, N, K, xq, M, y, N, sw_cpu_use_neon_dotprod());
        snprintf(what, sizeof what, "swi_qrows_neon %s vs scalar", qname[t]);
        check_close(y, ref, (size_t)M * N, 1e-5, what);
        use_level(-1);
        free(w);
    }
    free(x); free(xq); free(ref); free(y); free(one);
}

static void test_gemm_bf16(sw_pool *pool) {
    uint64_t s = 0x5eed0005;
    const int N = 37, M = 9;
    static const int Ks[] = {64, 100, 7};
    char what[160];
    for (int ki = 0; ki < 3; ki++) {
        const int K = Ks[ki];
        float *x = malloc((size_t)M * K * 4), *wf = malloc((size_t)N * K * 4);
        fill(&s, x, (size_t)M * K, 1.0f);
        fill(&s, wf, (size_t)N * K, 0.5f);
        uint16_t *w = malloc((size_t)N * K * 2);
        sw_f32_to_bf16(wf, w, (size_t)N * K);
        float *ref = malloc((size_t)M * N * 4), *y = malloc((size_t)M * N * 4), *one = malloc((size_t)N * 4);
        use_level(SW_ISA_SCALAR);
        sw_gemm_bf16(NULL, w, N, K, x, K, M, ref, N);
        use_level(SW_ISA_NEON);
        sw_gemm_bf16(pool, w, N, K, x, K, M, y, N);
        snprintf(what, sizeof what, "sw_gemm_bf16 K=%d threads %d vs scalar", K, pool ? sw_pool_size(pool) : 1);
        check_close(y, ref, (size_t)M * N, 1e-5, what);
        for (int r = 0; r < M; r += 4) {
            sw_gemm_bf16(pool, w, N, K, x + (size_t)r * K, K, 1, one, N);
            snprintf(what, sizeof what, "sw_gemm_bf16 K=%d row %d at m=1 vs inside m=%d", K, r, M);
            check_bits(one, y + (size_t)r * N, (size_t)N * 4, what);
        }
        use_level(-1);
        free(x); free(wf); free(w); free(ref); free(y); free(one);
    }
}

void test_quant(void) {
    test_quantize();
    sw_pool *pool = sw_pool_create(3);
    test_gemm_q(NULL);
    test_gemm_q(pool);
    test_gemm_bf16(NULL);
    test_gemm_bf16(pool);
    sw_pool_destroy(pool);
}
