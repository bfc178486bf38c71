#include "sw_cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum {
    F_AVX2 = 1 << 0,
    F_FMA = 1 << 1,
    F_F16C = 1 << 2,
    F_AVX512F = 1 << 3,
    F_AVX512BW = 1 << 4,
    F_AVX512VL = 1 << 5,
    F_AVX512DQ = 1 << 6,
    F_AVX512VNNI = 1 << 7,
    F_AVX512BF16 = 1 << 8,
    F_AVXVNNI = 1 << 9,
    F_DETECTED = 1 << 30,
};

#define F_AVX512_SET \
    (F_FMA | F_F16C | F_AVX512F | F_AVX512BW | F_AVX512VL | F_AVX512DQ | F_AVX512VNNI | F_AVX512BF16)

static _Atomic int g_features = 0;
// -1 = not yet read from the environment.
static _Atomic int g_simd_enabled = -1;

static int detect(void) {
    int f = F_DETECTED;
#if defined(__x86_64__) || defined(__i386__)
    // __builtin_cpu_supports also checks XCR0, so a hypervisor that hides AVX-512 state is
    // reported as "not supported" rather than faulting later.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) f |= F_AVX2;
    if (__builtin_cpu_supports("fma")) f |= F_FMA;
    if (__builtin_cpu_supports("f16c")) f |= F_F16C;
    if (__builtin_cpu_supports("avx512f")) f |= F_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) f |= F_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) f |= F_AVX512VL;
    if (__builtin_cpu_supports("avx512dq")) f |= F_AVX512DQ;
    if (__builtin_cpu_supports("avx512vnni")) f |= F_AVX512VNNI;
    if (__builtin_cpu_supports("avx512bf16")) f |= F_AVX512BF16;
    if (__builtin_cpu_supports("avxvnni")) f |= F_AVXVNNI;
#endif
    return f;
}

static inline int features(void) {
    int f = atomic_load_explicit(&g_features, memory_order_relaxed);
    if (__builtin_expect(f == 0, 0)) {
        f = detect();
        atomic_store_explicit(&g_features, f, memory_order_relaxed);
    }
    return f;
}

static inline int simd_enabled(void) {
    int e = atomic_load_explicit(&g_simd_enabled, memory_order_relaxed);
    if (__builtin_expect(e < 0, 0)) {
        const char *s = getenv("SWIFTLET_NO_SIMD");
        int disabled = s && s[0] && strcmp(s, "0") != 0;
        int expected = -1;
        atomic_compare_exchange_strong(&g_simd_enabled, &expected, disabled ? 0 : 1);
        e = atomic_load_explicit(&g_simd_enabled, memory_order_relaxed);
    }
    return e;
}

int sw_cpu_has_avx2(void) { return (features() & F_AVX2) != 0; }
int sw_cpu_has_fma(void) { return (features() & F_FMA) != 0; }
int sw_cpu_has_f16c(void) { return (features() & F_F16C) != 0; }
int sw_cpu_has_avx512f(void) { return (features() & F_AVX512F) != 0; }
int sw_cpu_has_avx512bw(void) { return (features() & F_AVX512BW) != 0; }
int sw_cpu_has_avx512vl(void) { return (features() & F_AVX512VL) != 0; }
int sw_cpu_has_avx512dq(void) { return (features() & F_AVX512DQ) != 0; }
int sw_cpu_has_avx512_vnni(void) { return (features() & F_AVX512VNNI) != 0; }
int sw_cpu_has_avx512_bf16(void) { return (features() & F_AVX512BF16) != 0; }
int sw_cpu_has_avx_vnni(void) { return (features() & F_AVXVNNI) != 0; }

int sw_cpu_has_avx512_set(void) { return (features() & F_AVX512_SET) == F_AVX512_SET; }

int sw_cpu_use_avx512(void) { return simd_enabled() && sw_cpu_has_avx512_set(); }

int sw_cpu_set_simd_enabled(int enabled) {
    int prev = simd_enabled();
    atomic_store_explicit(&g_simd_enabled, enabled ? 1 : 0, memory_order_relaxed);
    return prev;
}
