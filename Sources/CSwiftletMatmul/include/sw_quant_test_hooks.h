#pragma once
// TEST HOOKS ONLY. Nothing in the engine calls these; they let the test suites and the kernel
// benchmark reach code paths this CPU would otherwise never take.

#ifdef __cplusplus
extern "C" {
#endif

/// TEST HOOK: 1 when this CPU can run the EVEX twin of the AVX-VNNI quantized kernel
/// (AVX512-VNNI + AVX512-VL + the AVX2 level).
int sw_quant_test_avx2_vnni_evex_available(void);

/// TEST HOOK: with enabled != 0, AVX2-level quantized matmuls called from this thread run the
/// AVX-VNNI kernel body built with EVEX encodings (vpdpbusd on ymm from AVX512-VNNI + VL)
/// instead of the plain AVX2 kernel, so CPUs without AVX-VNNI can test that body. Production
/// dispatch never selects it. Returns the previous setting, or -1 (and changes nothing) when
/// enabling on a CPU without the twin's features.
int sw_quant_test_use_avx2_vnni_evex(int enabled);

/// TEST HOOK: the AVX2-level quantized kernel a call from this thread takes now: 0 plain AVX2,
/// 1 AVX-VNNI (VEX), 2 its EVEX twin.
int sw_quant_test_avx2_vnni_variant(void);

#ifdef __cplusplus
}
#endif
