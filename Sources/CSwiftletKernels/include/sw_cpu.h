#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CPU feature queries. Each returns 1 when the instruction set is present and the OS saves
/// its register state, 0 otherwise (always 0 on non-x86 machines). Results are cached.
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

/// 1 when the CPU has the full AVX-512 kernel set (F/BW/VL/DQ + VNNI + BF16 + F16C + FMA),
/// whether or not SIMD kernels are currently enabled.
int sw_cpu_has_avx512_set(void);

/// 1 when the full AVX-512 kernel set (F/BW/VL/DQ + VNNI + BF16 + F16C + FMA) is present *and*
/// SIMD kernels are enabled. Kernels consult this on every call to pick their code path.
int sw_cpu_use_avx512(void);

/// Enables (1) or disables (0) the SIMD kernel paths process-wide, returning the previous
/// setting. Disabling forces the portable scalar code, which tests use as a cross-check.
/// The initial value is 1 unless the environment variable SWIFTLET_NO_SIMD is set to a
/// non-empty value other than "0".
int sw_cpu_set_simd_enabled(int enabled);

#ifdef __cplusplus
}
#endif
