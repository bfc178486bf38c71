// Shared helpers of the aarch64 kernel tests: a fixed-seed generator, level switching and
// comparisons that count failures instead of stopping at the first.
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "sw_cpu.h"

extern int g_failures;

static inline uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
// Uniform in [-a, a).
static inline float rng_f(uint64_t *s, float a) {
    return a * ((float)(rng_next(s) >> 40) * 0x1p-23f - 1.0f);
}
static inline void fill(uint64_t *s, float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++) x[i] = rng_f(s, a);
}

static inline void check(int ok, const char *what) {
    if (!ok) {
        g_failures++;
        fprintf(stderr, "FAIL: %s (dotprod %d)\n", what, sw_cpu_use_neon_dotprod());
    }
}

static inline void check_bits(const void *a, const void *b, size_t bytes, const char *what) {
    if (memcmp(a, b, bytes) == 0) return;
    size_t i = 0;
    while (((const uint8_t *)a)[i] == ((const uint8_t *)b)[i]) i++;
    char msg[256];
    snprintf(msg, sizeof msg, "%s: not bit-identical (first difference at byte %zu)", what, i);
    check(0, msg);
}

// sqrt(sum (a-b)^2 / sum b^2) < tol, the measure the Swift kernel tests use.
static inline void check_close(const float *a, const float *b, size_t n, double tol, const char *what) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = (double)a[i] - (double)b[i];
        num += e * e;
        den += (double)b[i] * b[i];
    }
    const double rel = sqrt(num / (den > 1e-300 ? den : 1e-300));
    if (rel < tol) return;
    char msg[256];
    snprintf(msg, sizeof msg, "%s: relative error %.3g >= %.3g", what, rel, tol);
    check(0, msg);
}

// |a - b| <= atol + rtol |b| for every element (for elementwise functions).
static inline void check_each(const float *a, const float *b, size_t n, float atol, float rtol, const char *what) {
    for (size_t i = 0; i < n; i++) {
        if (fabsf(a[i] - b[i]) <= atol + rtol * fabsf(b[i])) continue;
        char msg[256];
        snprintf(msg, sizeof msg, "%s: element %zu is %.9g, scalar %.9g", what, i, a[i], b[i]);
        check(0, msg);
        return;
    }
}

static inline void use_level(int level) { sw_cpu_set_thread_level(level); }

void test_converters(void);
void test_ops(void);
void test_quant(void);
void test_quant_i8mm(void);
void test_kquant(void);
void test_attention(void);
void test_linear_sampling(void);
