// Deterministic random data for the kernel benchmarks: one fixed-seed xorshift stream, so every
// run of a benchmark times the same weights and inputs.
#ifndef BENCH_RANDOM_H
#define BENCH_RANDOM_H

#include <stdint.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}
/// Uniform in [-1, 1).
static float frnd(void) { return (rnd() & 0xFFFFFF) / (float)0x1000000 * 2.0f - 1.0f; }

#endif
