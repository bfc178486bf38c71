#pragma once
// One kernel level's passes over a row of logits (internal to the sw_sampling kernels). The public
// entries in sw_sampling.c pick a table once per call from sw_cpu_level().
#include <stddef.h>

typedef struct {
    /// Largest value, NaNs skipped (the accumulator is kept when a comparison fails).
    float (*max)(const float *x, size_t n);
    /// First index i with x[i] == v, or n.
    size_t (*find_eq)(const float *x, size_t n, float v);
    /// First index i >= start with x[i] > v, or n.
    size_t (*next_gt)(const float *x, size_t start, size_t n, float v);
    size_t (*count_gt)(const float *x, size_t n, float v);
    /// See sw_exp_weights_f32; out may be NULL or x.
    double (*exp_weights)(const float *x, float *out, size_t n, float max, float scale, float floor);
    /// How far sw_cdf_pick_f32 can skip: the first index of a block whose weights would take target
    /// below 0, with target reduced by the blocks before it (n when the row does not).
    size_t (*cdf_skip)(const float *w, size_t n, double *target);
} sw_sampling_ops;

/// Arguments of exp below this give weight 0 (expf would be denormal or 0 there); every level uses it.
#define SW_SAMPLING_EXP_MIN (-87.0f)

extern const sw_sampling_ops sw_sampling_ops_scalar;
#if defined(__x86_64__)
extern const sw_sampling_ops sw_sampling_ops_avx2;
extern const sw_sampling_ops sw_sampling_ops_avx512;
#endif
#if defined(__aarch64__)
extern const sw_sampling_ops sw_sampling_ops_neon;
#endif
