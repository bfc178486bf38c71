// Converters and row-wise ops: NEON level against the scalar level of the same entry point, and
// the NEON kernel called directly (so a missing dispatch hook cannot hide behind the scalar path).
#include <stdlib.h>
#include "check.h"
#include "sw_ops_neon.h"
#include "sw_quant_neon.h"
#include "sw_ops.h"
#include "sw_quant.h"

// Floats of every kind the converters treat specially, then random ones of many magnitudes.
static void converter_inputs(float *x, size_t n, uint64_t *s) {
    static const uint32_t special[] = {
        0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffbfffff, 0x00000001,
        0x807fffff, 0x3f808000, 0x3f818000, 0x3f80ffff, 0x7f7fffff, 0x477ff000, 0x477fefff, 0x38800000,
        0x387fffff, 0x33800000, 0x33000000, 0x33000001, 0xc77fffff, 0x47800000, 0x7f7f8000, 0x3580a000};
    const size_t ns = sizeof special / sizeof special[0];
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        if (i < ns) u = special[i];
        else {
            const float m = rng_f(s, 1.0f);
            const int e = (int)(rng_next(s) % 80) - 40;
            const float f = ldexpf(m, e);
            memcpy(&u, &f, 4);
        }
        memcpy(&x[i], &u, 4);
    }
}

void test_converters(void) {
    uint64_t s = 0x5eed0001;
    const size_t n = 1003;  // not a multiple of the vector width: tails run too
    float *x = malloc(n * 4), *a = malloc(65536 * 4), *b = malloc(65536 * 4), *c = malloc(65536 * 4);
    uint16_t *ha = malloc(n * 2), *hb = malloc(n * 2), *hc = malloc(n * 2), *all = malloc(65536 * 2);
    converter_inputs(x, n, &s);
    for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;

    use_level(SW_ISA_SCALAR);
    sw_f32_to_bf16(x, ha, n);
    use_level(SW_ISA_NEON);
    sw_f32_to_bf16(x, hb, n);
    swi_f32_to_bf16_neon(x, hc, n);
    check_bits(hb, ha, n * 2, "sw_f32_to_bf16");
    check_bits(hc, ha, n * 2, "swi_f32_to_bf16_neon");
    sw_f32_to_bf16_row(x, hb, n);
    check_bits(hb, ha, n * 2, "sw_f32_to_bf16_row");

    use_level(SW_ISA_SCALAR);
    sw_f32_to_f16(x, ha, n);
    use_level(SW_ISA_NEON);
    sw_f32_to_f16(x, hb, n);
    swi_f32_to_f16_neon(x, hc, n);
    check_bits(hb, ha, n * 2, "sw_f32_to_f16");
    check_bits(hc, ha, n * 2, "swi_f32_to_f16_neon");

    // Every half and bf16 value, NaNs and subnormals included.
    use_level(SW_ISA_SCALAR);
    sw_f16_to_f32(all, a, 65536);
    use_level(SW_ISA_NEON);
    sw_f16_to_f32(all, b, 65536);
    swi_f16_to_f32_neon(all, c, 65536);
    check_bits(b, a, 65536 * 4, "sw_f16_to_f32");
    check_bits(c, a, 65536 * 4, "swi_f16_to_f32_neon");
    use_level(SW_ISA_SCALAR);
    sw_bf16_to_f32(all, a, 65535);
    use_level(SW_ISA_NEON);
    sw_bf16_to_f32(all, b, 65535);
    swi_bf16_to_f32_neon(all, c, 65535);
    check_bits(b, a, 65535 * 4, "sw_bf16_to_f32");
    check_bits(c, a, 65535 * 4, "swi_bf16_to_f32_neon");
    sw_bf16_to_f32_row(all, b, 65535);
    check_bits(b, a, 65535 * 4, "sw_bf16_to_f32_row");
    use_level(-1);
    free(x); free(a); free(b); free(c); free(ha); free(hb); free(hc); free(all);
}

enum { ROWS = 5, N = 203, LD = 211 };

// 1: call the swi_*_neon kernel itself at the NEON level instead of the public entry point.
static int g_direct;

// Runs op on a fresh copy of the input at the scalar and NEON levels and compares.
typedef void (*row_op)(const float *x, float *out, void *arg);

static void compare_op(row_op op, const float *x, size_t len, void *arg, float atol, float rtol, const char *what) {
    float *a = malloc(len * 4), *b = malloc(len * 4);
    memcpy(a, x, len * 4);
    memcpy(b, x, len * 4);
    use_level(SW_ISA_SCALAR);
    op(x, a, arg);
    use_level(SW_ISA_NEON);
    op(x, b, arg);
    use_level(-1);
    char name[160];
    snprintf(name, sizeof name, "%s%s", what, g_direct ? " (NEON kernel called directly)" : "");
    check_each(b, a, len, atol, rtol, name);
    free(a);
    free(b);
}

static const float *g_w, *g_b, *g_cs;
#define PICK(pub, neon) (g_direct && sw_cpu_level() == SW_ISA_NEON ? (neon) : (pub))

static void op_rms(const float *x, float *o, void *arg) {
    (void)arg;
    PICK(sw_rmsnorm, swi_rmsnorm_neon)(x, LD, g_w, o, LD, ROWS, N, 1e-6f);
}
static void op_ln(const float *x, float *o, void *arg) {
    PICK(sw_layernorm, swi_layernorm_neon)(x, LD, g_w, arg ? g_b : NULL, o, LD, ROWS, N, 1e-5f);
}
static void op_silu(const float *x, float *o, void *arg) {
    (void)arg;
    PICK(sw_silu_mul, swi_silu_mul_neon)(x, 2 * N + 3, o, LD, ROWS, N);
}
static void op_gelu(const float *x, float *o, void *arg) {
    (void)x; (void)arg;
    PICK(sw_gelu_tanh, swi_gelu_tanh_neon)(o, (size_t)ROWS * LD);
}
static void op_add(const float *x, float *o, void *arg) {
    (void)arg;
    PICK(sw_add_rows, swi_add_rows_neon)(o, LD, x + 7, LD, ROWS - 1, N);
}
static void op_bias(const float *x, float *o, void *arg) {
    (void)x; (void)arg;
    PICK(sw_add_bias, swi_add_bias_neon)(o, LD, g_b, ROWS, N);
}
static void op_rope(const float *x, float *o, void *arg) {
    (void)x;
    const int *p = (const int *)arg;  // halves, rot_dim
    PICK(sw_rope_apply, swi_rope_apply_neon)(o, LD, ROWS, 3, 64, p[1], g_cs, p[0]);
}

void test_ops(void) {
    uint64_t s = 0x5eed0002;
    const size_t len = (size_t)ROWS * (2 * N + 3) + 16;
    float *x = malloc(len * 4), *w = malloc(N * 4), *b = malloc(N * 4), *cs = malloc(ROWS * 64 * 4);
    fill(&s, x, len, 3.0f);
    for (int r = 0; r < ROWS; r++) x[(size_t)r * LD] += 40.0f;  // a large mean for LayerNorm
    fill(&s, w, N, 1.5f);
    fill(&s, b, N, 0.5f);
    fill(&s, cs, ROWS * 64, 1.0f);
    g_w = w;
    g_b = b;
    g_cs = cs;
    float *big = malloc(len * 4);
    for (size_t i = 0; i < len; i++) big[i] = x[i] * 40.0f;
    for (g_direct = 0; g_direct < 2; g_direct++) {
        compare_op(op_rms, x, (size_t)ROWS * LD, NULL, 1e-6f, 2e-6f, "sw_rmsnorm");
        compare_op(op_ln, x, (size_t)ROWS * LD, NULL, 1e-5f, 1e-5f, "sw_layernorm");
        compare_op(op_ln, x, (size_t)ROWS * LD, b, 1e-5f, 1e-5f, "sw_layernorm with bias");
        compare_op(op_silu, x, (size_t)ROWS * (2 * N + 3), NULL, 1e-6f, 4e-6f, "sw_silu_mul");
        // Saturating inputs: silu and gelu must reach their limits without inf or NaN.
        compare_op(op_silu, big, (size_t)ROWS * (2 * N + 3), NULL, 1e-6f, 4e-6f, "sw_silu_mul (large inputs)");
        compare_op(op_gelu, x, (size_t)ROWS * LD, NULL, 1e-6f, 4e-6f, "sw_gelu_tanh");
        compare_op(op_gelu, big, (size_t)ROWS * LD, NULL, 1e-6f, 4e-6f, "sw_gelu_tanh (large inputs)");
        compare_op(op_add, x, (size_t)ROWS * LD, NULL, 0, 0, "sw_add_rows");
        compare_op(op_bias, x, (size_t)ROWS * LD, NULL, 0, 0, "sw_add_bias");
        static const int rope[4][2] = {{0, 64}, {1, 64}, {0, 38}, {1, 22}};
        for (int i = 0; i < 4; i++) {
            char what[64];
            snprintf(what, sizeof what, "sw_rope_apply halves %d rot_dim %d", rope[i][0], rope[i][1]);
            compare_op(op_rope, x, (size_t)ROWS * LD, (void *)rope[i], 1e-6f, 2e-6f, what);
        }
    }
    free(big); free(x); free(w); free(b); free(cs);
}
