// The NEON paths of the fp32 linear layer (sw_gemm_f32.c) and the sampler's row passes
// (sw_sampling*.c) against the scalar level: the linear layer and the comparison-only passes
// are documented bit-identical at every level, the exp-based passes agree to rounding.
#include <stdlib.h>
#include "check.h"
#include "sw_gemm_f32.h"
#include "sw_pool.h"
#include "sw_sampling.h"

static void test_linear(sw_pool *pool) {
    uint64_t s = 0x5eed0008;
    const int N = 45, K = 70, M = 11;
    float *w = malloc(sizeof(float) * N * K), *x = malloc(sizeof(float) * M * K);
    float *a = malloc(sizeof(float) * M * N), *b = malloc(sizeof(float) * M * N), *one = malloc(sizeof(float) * N);
    fill(&s, w, (size_t)N * K, 0.5f);
    fill(&s, x, (size_t)M * K, 1.0f);
    sw_f32_linear *l = sw_f32_linear_create(w, N, K);
    check(l != NULL, "sw_f32_linear_create");
    use_level(SW_ISA_SCALAR);
    sw_f32_linear_forward(NULL, l, x, K, M, a, N);
    use_level(SW_ISA_NEON);
    sw_f32_linear_forward(pool, l, x, K, M, b, N);
    check_bits(b, a, sizeof(float) * M * N, "sw_f32_linear_forward NEON vs scalar");
    for (int r = 0; r < M; r += 5) {
        sw_f32_linear_forward(pool, l, x + (size_t)r * K, K, 1, one, N);
        check_bits(one, b + (size_t)r * N, sizeof(float) * N, "sw_f32_linear_forward row alone vs in the batch");
    }
    use_level(-1);
    sw_f32_linear_destroy(l);
    free(w); free(x); free(a); free(b); free(one);
}

static void test_sampling(void) {
    uint64_t s = 0x5eed0009;
    const size_t n = 10007;
    float *x = malloc(n * 4), *wa = malloc(n * 4), *wb = malloc(n * 4);
    fill(&s, x, n, 8.0f);
    x[5000] = 9.5f;
    x[7001] = 9.5f;  // a tie: the first index wins
    x[17] = -INFINITY;
    int64_t ta[40], tb[40];
    float ma, mb, am_a, am_b;
    size_t ia, ib, ca, cb, ka, kb;
    double ea, eb, la, lb;
    for (int level = SW_ISA_SCALAR, pass = 0; pass < 2; pass++, level = SW_ISA_NEON) {
        use_level(level);
        const float m = sw_max_f32(x, n);
        const size_t i = sw_argmax_f32(x, n, pass ? &am_b : &am_a);
        const size_t c = sw_count_greater_f32(x, n, 5.0f);
        const size_t k = sw_top_indices_f32(x, n, 40, pass ? tb : ta);
        const double e = sw_exp_weights_f32(x, pass ? wb : wa, n, m, 0.7f, 1e-6f);
        const double lse = sw_logsumexp_f32(x, n);
        if (pass) { mb = m; ib = i; cb = c; kb = k; eb = e; lb = lse; }
        else { ma = m; ia = i; ca = c; ka = k; ea = e; la = lse; }
    }
    use_level(-1);
    check(ma == mb && am_a == am_b, "sw_max_f32 / sw_argmax_f32 value NEON vs scalar");
    check(ia == ib && ia == 5000, "sw_argmax_f32 index NEON vs scalar (first of a tie)");
    check(ca == cb, "sw_count_greater_f32 NEON vs scalar");
    check(ka == kb && memcmp(ta, tb, ka * sizeof(int64_t)) == 0, "sw_top_indices_f32 NEON vs scalar");
    check(fabs(ea - eb) <= 1e-5 * fabs(ea), "sw_exp_weights_f32 sum NEON vs scalar");
    // A weight next to the floor may be kept at one level and dropped at the other.
    check_each(wb, wa, n, 2e-6f, 2e-6f, "sw_exp_weights_f32 weights NEON vs scalar");
    check(wb[17] == 0.0f, "sw_exp_weights_f32 gives -inf a weight of 0");
    check(fabs(la - lb) <= 1e-5 * fabs(la), "sw_logsumexp_f32 NEON vs scalar");
    free(x); free(wa); free(wb);
}

void test_linear_sampling(void) {
    sw_pool *pool = sw_pool_create(3);
    test_linear(NULL);
    test_linear(pool);
    sw_pool_destroy(pool);
    test_sampling();
}
