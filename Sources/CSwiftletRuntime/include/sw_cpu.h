#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernel levels. Every kernel family asks sw_cpu_level() which code path to take; nothing else
/// in the library reads cpuid or calls __builtin_cpu_supports. Levels of one architecture are
/// ordered (x86: scalar < avx2 < avx512; aarch64: scalar < neon).
///   SW_ISA_AVX2:   AVX2 + FMA + F16C (AVX-VNNI used inside when present).
///   SW_ISA_AVX512: AVX-512 F/BW/VL/DQ + VNNI + BF16 (+ FMA, F16C).
///   SW_ISA_NEON:   aarch64 Advanced SIMD (dotprod and i8mm used inside when present).
typedef enum {
    SW_ISA_SCALAR = 0,
    SW_ISA_AVX2 = 1,
    SW_ISA_AVX512 = 2,
    SW_ISA_NEON = 3,
} sw_isa;

/// The level kernels take now: the calling thread's override (sw_cpu_set_thread_level) if any,
/// else the best this CPU supports capped by the environment variable SWIFTLET_ISA (scalar,
/// avx2, avx512, neon; read once) and by sw_cpu_set_level.
/// Kernel entry points read it once, on the calling thread, and hand the level to their pool
/// tasks, so that a thread-level override covers the whole call.
int sw_cpu_level(void);
/// The best level this CPU supports, ignoring every cap.
int sw_cpu_max_level(void);
/// Caps the level process-wide (clamped to what the CPU supports; a level of the other
/// architecture means scalar) and returns the previous level. Tests use it to run every path.
int sw_cpu_set_level(int level);
/// Overrides the level for the calling thread only (clamped like sw_cpu_set_level); -1 removes
/// the override. Returns the previous override (-1 for none). Tests run each level this way
/// without disturbing work on other threads.
int sw_cpu_set_thread_level(int level);
/// The calling thread's override, or -1. sw_pool_run hands it to its workers for the region.
int sw_cpu_thread_level(void);
/// "scalar", "avx2", "avx512" or "neon".
const char *sw_cpu_level_name(int level);
/// The level named by s (case-insensitive), or -1.
int sw_cpu_level_from_name(const char *s);
/// 1 when SWIFTLET_ISA held a name that is not a level of this machine's architecture (it was
/// then ignored); the front ends print a warning.
int sw_cpu_env_rejected(void);

/// 1 when the level is SW_ISA_AVX512 (shorthand for the AVX-512 kernels).
int sw_cpu_use_avx512(void);

/// CPU feature queries. Each returns 1 when the instruction set is present and the OS saves
/// its register state, 0 otherwise (0 for the other architecture's features). Cached.
int sw_cpu_has_avx2(void);
int sw_cpu_has_fma(void);
int sw_cpu_has_f16c(void);
int sw_cpu_has_avx512f(void);
int sw_cpu_has_avx512bw(void);
int sw_cpu_has_avx512vl(void);
int sw_cpu_has_avx512dq(void);
int sw_cpu_has_avx512_vnni(void);
int sw_cpu_has_avx512_bf16(void);
int sw_cpu_has_avx_vnni(void);
int sw_cpu_has_neon_dotprod(void);
int sw_cpu_has_neon_i8mm(void);

/// AVX-VNNI inside the AVX2 kernels: present on the CPU and not switched off with
/// sw_cpu_set_avx_vnni(0) (or SWIFTLET_AVX_VNNI=0), so both AVX2 variants stay testable.
int sw_cpu_use_avx_vnni(void);
int sw_cpu_set_avx_vnni(int enabled);
/// dotprod / i8mm inside the NEON kernels, likewise (SWIFTLET_NEON_DOTPROD=0, SWIFTLET_NEON_I8MM=0).
int sw_cpu_use_neon_dotprod(void);
int sw_cpu_set_neon_dotprod(int enabled);
int sw_cpu_use_neon_i8mm(void);
int sw_cpu_set_neon_i8mm(int enabled);

#ifdef __cplusplus
}
#endif
