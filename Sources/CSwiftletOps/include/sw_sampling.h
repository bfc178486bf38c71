#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Kernels for the sampler's passes over one row of logits (a whole vocabulary, 49k-152k
/// floats). Each entry reads sw_cpu_level() once and runs on the calling thread.
///
/// Level independence: sw_max_f32, sw_argmax_f32, sw_count_greater_f32 and sw_top_indices_f32
/// give the same result at every level (they only compare). The exp-based kernels may differ
/// between levels in the last bits (the scalar level uses libm's expf, the SIMD levels a
/// polynomial with relative error ~2e-7), but each level is deterministic for a given row.
/// NaNs are not expected in logits; comparisons treat them as smaller than everything.

/// The largest value of x[0..<n], or -inf when n is 0 (or every value is NaN).
float sw_max_f32(const float *x, size_t n);

/// The first index of the largest value (0 when n is 0 or there is none); its value goes to
/// *max_out when max_out is not NULL.
size_t sw_argmax_f32(const float *x, size_t n, float *max_out);

/// The number of values greater than v.
size_t sw_count_greater_f32(const float *x, size_t n, float v);

/// Softmax weights relative to max: w = exp((x[i] - max) * scale), set to 0 when w < floor or
/// when the argument is below the float exp range (so -inf logits always get weight 0).
/// Writes w to out when out is not NULL (out may be x). Returns the sum of the weights,
/// accumulated in double. scale > 0 and max >= every x[i] are expected.
double sw_exp_weights_f32(const float *x, float *out, size_t n, float max, float scale, float floor);

/// log(sum(exp(x))) computed as max + log(sum(exp(x - max))) in double; -inf when the maximum
/// is not finite.
double sw_logsumexp_f32(const float *x, size_t n);

/// Inverse-CDF draw over non-negative weights: walks w in order subtracting each weight from
/// target and returns the first index where target drops below 0. When rounding leaves mass
/// over, returns the last index with a positive weight; n when no weight is positive.
size_t sw_cdf_pick_f32(const float *w, size_t n, double target);

/// Indices of the k largest values, largest first; equal values keep the lower index first.
/// Writes min(k, n) indices to out and returns that count.
size_t sw_top_indices_f32(const float *x, size_t n, size_t k, int64_t *out);

/// The history penalties on one row of `vocab` logits, in vLLM's order: the repetition
/// penalty (CTRL: positive logits divided by it, negative ones multiplied) once per distinct
/// token of tokens[0..<n_tokens], then for every distinct token of the output part
/// (tokens[prompt_len..<n_tokens]) logit -= frequency * count + presence. Ids outside
/// [0, vocab) are ignored. Uses a per-thread scratch table of `vocab` entries, left zeroed.
/// Returns 0, or -1 when the scratch table could not be allocated (logits untouched).
int sw_apply_penalties_f32(float *logits, size_t vocab, const int64_t *tokens, size_t n_tokens, size_t prompt_len,
                           float repetition, float frequency, float presence);

#ifdef __cplusplus
}
#endif
