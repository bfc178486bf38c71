// The i8mm packed-tile kernel (sw_quant_neon_i8mm.c) against the sdot kernel, bit for bit, and
// against the scalar reference; through sw_gemm_qp with i8mm switched on and off; and batch
// invariance. Runs only where the CPU has i8mm (qemu -cpu max), and says so otherwise.
#include <stdlib.h>
#include "check.h"
#include "sw_quant_neon.h"
#include "sw_pool.h"
#include "sw_quant.h"
#include "sw_quant_impl.h"

static uint8_t *weights(uint64_t *s, sw_qtype type, int N, int K) {
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

static const char *const qname[] = {"Q8_0", "Q4_0", "Q4_1"};

// Every tile of P through one kernel; i8mm selects swi_qtile_neon_i8mm, else the sdot kernel.
static void run_tiles(int i8mm, sw_qtype t, const uint8_t *P, int N, int K, const uint8_t *xq, int m, float *y) {
    const size_t tb = (size_t)(K / 32) * swi_qrec_bytes(t);
    for (int n0 = 0; n0 < N; n0 += SW_QTILE) {
        const int nr = N - n0 < SW_QTILE ? N - n0 : SW_QTILE;
        if (i8mm) swi_qtile_neon_i8mm(t, P + tb * (n0 / SW_QTILE), nr, K, xq, m, y + n0, N);
        else swi_qtile_neon(t, P + tb * (n0 / SW_QTILE), nr, K, xq, m, y + n0, N, 1);
    }
}

void test_quant_i8mm(void) {
    if (!sw_cpu_has_neon_i8mm() || !sw_cpu_has_neon_dotprod()) {
        printf("aarch64 kernel tests: no i8mm here, its kernel is not tested on this CPU\n");
        return;
    }
    uint64_t s = 0x5eed0018;
    sw_pool *pool = sw_pool_create(3);
    // K = 1088: 34 blocks, so three K chunks of the i8mm kernel, the last one partial.
    static const int Ks[] = {64, 1088};
    const int N = 70, M = 37;  // N: two full 32-row tiles and a partial one; M odd
    char what[200];
    for (int ki = 0; ki < 2; ki++) {
        const int K = Ks[ki];
        const size_t xrb = sw_q8a_row_bytes(K);
        float *x = malloc((size_t)M * K * 4);
        fill(&s, x, (size_t)M * K, 1.0f);
        for (int j = 0; j < 32; j++) x[K + j] *= 40.0f;  // an outlier block
        uint8_t *xq = malloc(xrb * M);
        sw_quantize_rows_q8a(x, K, M, K, xq);
        float *ref = malloc((size_t)M * N * 4), *a = malloc((size_t)M * N * 4), *b = malloc((size_t)M * N * 4);
        for (int t = 0; t < 3; t++) {
            uint8_t *w = weights(&s, (sw_qtype)t, N, K);
            const size_t tb = (size_t)(K / 32) * swi_qrec_bytes((sw_qtype)t);
            uint8_t *P = malloc(tb * ((N + SW_QTILE - 1) / SW_QTILE));
            swi_qpack_scalar((sw_qtype)t, w, N, K, P);
            sw_gemm_q_ref((sw_qtype)t, w, N, K, xq, M, ref, N);
            static const int ms[] = {2, 3, 4, 33, 37};
            for (int mi = 0; mi < 5; mi++) {
                const int m = ms[mi];
                run_tiles(0, (sw_qtype)t, P, N, K, xq, m, a);
                run_tiles(1, (sw_qtype)t, P, N, K, xq, m, b);
                snprintf(what, sizeof what, "swi_qtile_neon_i8mm %s K=%d m=%d vs sdot", qname[t], K, m);
                check_bits(b, a, (size_t)m * N * 4, what);
                snprintf(what, sizeof what, "swi_qtile_neon_i8mm %s K=%d m=%d vs scalar", qname[t], K, m);
                check_close(b, ref, (size_t)m * N, 1e-5, what);
            }
            // Batch invariance: rows 5..6 as their own pair, and row 8 as an odd last row, against m = M.
            run_tiles(1, (sw_qtype)t, P, N, K, xq, M, a);
            run_tiles(1, (sw_qtype)t, P, N, K, xq + 5 * xrb, 2, b);
            snprintf(what, sizeof what, "i8mm %s K=%d rows 5-6 as a pair vs inside m=%d", qname[t], K, M);
            check_bits(b, a + (size_t)5 * N, (size_t)2 * N * 4, what);
            run_tiles(1, (sw_qtype)t, P, N, K, xq + 4 * xrb, 5, b);
            snprintf(what, sizeof what, "i8mm %s K=%d row 8 last of m=5 vs paired inside m=%d", qname[t], K, M);
            check_bits(b + (size_t)4 * N, a + (size_t)8 * N, (size_t)N * 4, what);
            // The dispatch: sw_gemm_qp at the NEON level with i8mm on and off, one and three threads.
            use_level(SW_ISA_NEON);
            for (int pi = 0; pi < 2; pi++) {
                sw_pool *p = pi ? pool : NULL;
                sw_cpu_set_neon_i8mm(0);
                sw_gemm_qp(p, (sw_qtype)t, NULL, P, N, K, xq, M, a, N);
                sw_cpu_set_neon_i8mm(1);
                sw_gemm_qp(p, (sw_qtype)t, NULL, P, N, K, xq, M, b, N);
                snprintf(what, sizeof what, "sw_gemm_qp %s K=%d threads %d: i8mm on vs off", qname[t], K, pi ? 3 : 1);
                check_bits(b, a, (size_t)M * N * 4, what);
            }
            use_level(-1);
            free(w); free(P);
        }
        free(x); free(xq); free(ref); free(a); free(b);
    }
    sw_pool_destroy(pool);
}
