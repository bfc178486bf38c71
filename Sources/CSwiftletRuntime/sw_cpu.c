// The one dispatch point: CPU detection, the SWIFTLET_ISA cap and the level every kernel asks.
#include "sw_cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#endif

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
    F_NEON = 1 << 10,
    F_DOTPROD = 1 << 11,
    F_I8MM = 1 << 12,
    F_DETECTED = 1 << 30,
};

#define F_AVX2_SET (F_AVX2 | F_FMA | F_F16C)
#define F_AVX512_SET \
    (F_AVX2_SET | F_AVX512F | F_AVX512BW | F_AVX512VL | F_AVX512DQ | F_AVX512VNNI | F_AVX512BF16)

static _Atomic int g_features = 0;
// -1 = not yet computed (first call reads SWIFTLET_ISA).
static _Atomic int g_level = -1;
static _Atomic int g_env_rejected = 0;
// -1 = not yet read from the environment.
static _Atomic int g_avx_vnni = -1, g_dotprod = -1, g_i8mm = -1;

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
    // AVX-VNNI (VEX vpdpbusd): CPUID leaf 7 subleaf 1, EAX bit 4, read directly because the
    // __builtin_cpu_supports("avxvnni") bit lives in __cpu_features2, whose layout the
    // compiler's and the linked runtime library's versions need not agree on. It uses the
    // ymm state, so it counts only where AVX2 does (whose check includes XCR0).
    unsigned int a = 0, b = 0, c = 0, d = 0;
    if ((f & F_AVX2) && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4))) f |= F_AVXVNNI;
#elif defined(__aarch64__)
    f |= F_NEON;  // Advanced SIMD is part of the aarch64 base.
#if defined(__linux__)
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    if (hw & HWCAP_ASIMDDP) f |= F_DOTPROD;
    if (hw2 & HWCAP2_I8MM) f |= F_I8MM;
#elif defined(__APPLE__)
    f |= F_DOTPROD;  // every Apple Silicon core has dotprod; i8mm from M2 on is not probed here.
#endif
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

int sw_cpu_max_level(void) {
    const int f = features();
    if ((f & F_AVX512_SET) == F_AVX512_SET) return SW_ISA_AVX512;
    if ((f & F_AVX2_SET) == F_AVX2_SET) return SW_ISA_AVX2;
    if (f & F_NEON) return SW_ISA_NEON;
    return SW_ISA_SCALAR;
}

// Position of a level within its architecture's order; levels of the other architecture have none.
static int rank(int level) {
#if defined(__x86_64__) || defined(__i386__)
    return level == SW_ISA_SCALAR ? 0 : level == SW_ISA_AVX2 ? 1 : level == SW_ISA_AVX512 ? 2 : -1;
#elif defined(__aarch64__)
    return level == SW_ISA_SCALAR ? 0 : level == SW_ISA_NEON ? 1 : -1;
#else
    return level == SW_ISA_SCALAR ? 0 : -1;
#endif
}

static int clamp(int level) {
    const int max = sw_cpu_max_level();
    const int r = rank(level);
    if (r < 0) return SW_ISA_SCALAR;
    return r < rank(max) ? level : max;
}

const char *sw_cpu_level_name(int level) {
    switch (level) {
    case SW_ISA_AVX2: return "avx2";
    case SW_ISA_AVX512: return "avx512";
    case SW_ISA_NEON: return "neon";
    default: return "scalar";
    }
}

int sw_cpu_level_from_name(const char *s) {
    if (!s) return -1;
    static const char *const names[] = {"scalar", "avx2", "avx512", "neon"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    return -1;
}

static _Thread_local int tl_level = -1;

int sw_cpu_set_thread_level(int level) {
    const int prev = tl_level;
    tl_level = level < 0 ? -1 : clamp(level);
    return prev;
}

int sw_cpu_thread_level(void) { return tl_level; }

int sw_cpu_level(void) {
    if (tl_level >= 0) return tl_level;
    int l = atomic_load_explicit(&g_level, memory_order_relaxed);
    if (__builtin_expect(l < 0, 0)) {
        int want = sw_cpu_max_level();
        const char *s = getenv("SWIFTLET_ISA");
        if (s && s[0]) {
            const int named = sw_cpu_level_from_name(s);
            if (named >= 0 && rank(named) >= 0) want = clamp(named);
            else atomic_store_explicit(&g_env_rejected, 1, memory_order_relaxed);
        }
        int expected = -1;
        atomic_compare_exchange_strong(&g_level, &expected, want);
        l = atomic_load_explicit(&g_level, memory_order_relaxed);
    }
    return l;
}

int sw_cpu_env_rejected(void) {
    (void)sw_cpu_level();
    return atomic_load_explicit(&g_env_rejected, memory_order_relaxed);
}

int sw_cpu_set_level(int level) {
    (void)sw_cpu_level();
    const int prev = atomic_load_explicit(&g_level, memory_order_relaxed);
    atomic_store_explicit(&g_level, clamp(level), memory_order_relaxed);
    return prev;
}

int sw_cpu_use_avx512(void) { return sw_cpu_level() == SW_ISA_AVX512; }

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
int sw_cpu_has_neon_dotprod(void) { return (features() & F_DOTPROD) != 0; }
int sw_cpu_has_neon_i8mm(void) { return (features() & F_I8MM) != 0; }

// A sub-feature switch: on when the CPU has it unless the environment variable says "0".
static int sub_feature(_Atomic int *slot, int present, const char *env) {
    int e = atomic_load_explicit(slot, memory_order_relaxed);
    if (__builtin_expect(e < 0, 0)) {
        const char *s = getenv(env);
        const int off = s && strcmp(s, "0") == 0;
        int expected = -1;
        atomic_compare_exchange_strong(slot, &expected, present && !off);
        e = atomic_load_explicit(slot, memory_order_relaxed);
    }
    return e;
}

static int set_sub_feature(_Atomic int *slot, int present, const char *env, int enabled) {
    const int prev = sub_feature(slot, present, env);
    atomic_store_explicit(slot, present && enabled, memory_order_relaxed);
    return prev;
}

int sw_cpu_use_avx_vnni(void) { return sub_feature(&g_avx_vnni, sw_cpu_has_avx_vnni(), "SWIFTLET_AVX_VNNI"); }
int sw_cpu_set_avx_vnni(int e) { return set_sub_feature(&g_avx_vnni, sw_cpu_has_avx_vnni(), "SWIFTLET_AVX_VNNI", e); }
int sw_cpu_use_neon_dotprod(void) { return sub_feature(&g_dotprod, sw_cpu_has_neon_dotprod(), "SWIFTLET_NEON_DOTPROD"); }
int sw_cpu_set_neon_dotprod(int e) { return set_sub_feature(&g_dotprod, sw_cpu_has_neon_dotprod(), "SWIFTLET_NEON_DOTPROD", e); }
int sw_cpu_use_neon_i8mm(void) { return sub_feature(&g_i8mm, sw_cpu_has_neon_i8mm(), "SWIFTLET_NEON_I8MM"); }
int sw_cpu_set_neon_i8mm(int e) { return set_sub_feature(&g_i8mm, sw_cpu_has_neon_i8mm(), "SWIFTLET_NEON_I8MM", e); }
