// AVX-512 row converters (bf16 and half) behind sw_convert.c (split out of sw_quant_avx512.c).
// Every function carries its own target attribute, so the rest of the library stays portable and
// these are only entered after sw_cpu_use_avx512() said yes.
#include "sw_quant.h"
#include "sw_quant_impl.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define SWT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16,f16c,fma")))
#define SWTI SWT static inline __attribute__((always_inline))

// ---------------------------------------------------------------------------------------------
// Converters
// ---------------------------------------------------------------------------------------------

SWTI __m256i f32_to_bf16_16(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(r);
}

SWT void swi_f32_to_bf16_avx512(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(y + i), f32_to_bf16_16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(y + i, mk, f32_to_bf16_16(_mm512_maskz_loadu_ps(mk, x + i)));
    }
}

SWT void swi_bf16_to_f32_avx512(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(x + i)));
        _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
    }
    if (i < n) {
        const __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);
        __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mk, x + i));
        _mm512_mask_storeu_ps(y + i, mk, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
    }
}

SWT void swi_f16_to_f32_avx512(const uint16_t *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
    if (i < n) {
        const __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, mk, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, x + i)));
    }
}

SWT void swi_f32_to_f16_avx512(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        const __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(y + i, mk,
                                 _mm512_cvtps_ph(_mm512_maskz_loadu_ps(mk, x + i),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
}

#else  // not x86: never called (sw_cpu_use_avx512() is 0), but the symbols must exist.

void swi_f32_to_bf16_avx512(const float *x, uint16_t *y, size_t n) { (void)x; (void)y; (void)n; abort(); }
void swi_bf16_to_f32_avx512(const uint16_t *x, float *y, size_t n) { (void)x; (void)y; (void)n; abort(); }
void swi_f16_to_f32_avx512(const uint16_t *x, float *y, size_t n) { (void)x; (void)y; (void)n; abort(); }
void swi_f32_to_f16_avx512(const float *x, uint16_t *y, size_t n) { (void)x; (void)y; (void)n; abort(); }

#endif
