// The sampler's passes over a row of logits: dispatch, the scalar level (the reference the SIMD
// levels are tested against), and the level-independent parts built on a level's passes (top-k
// selection, the inverse-CDF walk, the history penalties).
#include "sw_sampling.h"
#include "sw_sampling_impl.h"
#include "sw_cpu.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ---- scalar level ----

static float max_scalar(const float *x, size_t n) {
    // Eight running maxima keep eight comparisons in flight; `a > m ? a : m` skips NaNs as the SIMD
    // max instructions do (they keep the second operand).
    float m[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    float best = -INFINITY;
    for (int j = 0; j < 8; j++) best = m[j] > best ? m[j] : best;
    for (; i < n; i++) best = x[i] > best ? x[i] : best;
    return best;
}

static size_t find_eq_scalar(const float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        if (x[i] == v) return i;
    return n;
}

static size_t next_gt_scalar(const float *x, size_t start, size_t n, float v) {
    for (size_t i = start; i < n; i++)
        if (x[i] > v) return i;
    return n;
}

static size_t count_gt_scalar(const float *x, size_t n, float v) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += x[i] > v;
    return c;
}

static double exp_weights_scalar(const float *x, float *out, size_t n, float max, float scale, float floor) {
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        float a = (x[i] - max) * scale;
        float e = a < SW_SAMPLING_EXP_MIN ? 0.0f : expf(a);
        if (e < floor) e = 0;
        if (out) out[i] = e;
        total += (double)e;
    }
    return total;
}

// The scalar level walks the whole row one weight at a time.
static size_t cdf_skip_scalar(const float *w, size_t n, double *target) {
    (void)w; (void)n; (void)target;
    return 0;
}

const sw_sampling_ops sw_sampling_ops_scalar = {
    max_scalar, find_eq_scalar, next_gt_scalar, count_gt_scalar, exp_weights_scalar, cdf_skip_scalar,
};

// ---- dispatch ----

static const sw_sampling_ops *ops_for(int level) {
    switch (level) {
#if defined(__x86_64__)
    case SW_ISA_AVX2: return &sw_sampling_ops_avx2;
    case SW_ISA_AVX512: return &sw_sampling_ops_avx512;
#endif
#if defined(__aarch64__)
    case SW_ISA_NEON: return &sw_sampling_ops_neon;
#endif
    default: return &sw_sampling_ops_scalar;
    }
}

float sw_max_f32(const float *x, size_t n) { return ops_for(sw_cpu_level())->max(x, n); }

size_t sw_argmax_f32(const float *x, size_t n, float *max_out) {
    const sw_sampling_ops *ops = ops_for(sw_cpu_level());
    float best = ops->max(x, n);
    if (max_out) *max_out = best;
    size_t i = ops->find_eq(x, n, best);
    return i < n ? i : 0; // n == 0, or only NaNs
}

size_t sw_count_greater_f32(const float *x, size_t n, float v) {
    return ops_for(sw_cpu_level())->count_gt(x, n, v);
}

double sw_exp_weights_f32(const float *x, float *out, size_t n, float max, float scale, float floor) {
    return ops_for(sw_cpu_level())->exp_weights(x, out, n, max, scale, floor);
}

double sw_logsumexp_f32(const float *x, size_t n) {
    const sw_sampling_ops *ops = ops_for(sw_cpu_level());
    float top = ops->max(x, n);
    if (!isfinite(top)) return -INFINITY;
    return (double)top + log(ops->exp_weights(x, NULL, n, top, 1.0f, 0.0f));
}

size_t sw_cdf_pick_f32(const float *w, size_t n, double target) {
    size_t i = ops_for(sw_cpu_level())->cdf_skip(w, n, &target);
    size_t last = n;
    for (; i < n; i++) {
        if (!(w[i] > 0)) continue;
        target -= (double)w[i];
        last = i;
        if (target < 0) return i;
    }
    if (last < n) return last;
    // Rounding left a sliver of mass: the last positive weight takes it.
    for (size_t j = n; j-- > 0;)
        if (w[j] > 0) return j;
    return n;
}

// ---- top-k: a bounded heap whose root is its worst entry ----

// An entry as one integer that orders like (value, then lower index first): the float's bits made
// monotonic (with -0 as +0, which compares equal), then the complemented index. The heap then
// compares plain integers instead of loading two values and breaking ties.
static inline uint64_t entry_key(const float *x, size_t i) {
    uint32_t u;
    memcpy(&u, &x[i], sizeof u);
    if (u == 0x80000000u) u = 0;
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (uint64_t)u << 32 | (uint32_t)~(uint32_t)i;
}

static inline size_t entry_index(uint64_t key) { return (size_t)(uint32_t)~(uint32_t)key; }

// Min-heap on keys: the root is the worst entry.
static void sift_down(uint64_t *heap, size_t m, size_t i) {
    uint64_t v = heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && heap[c + 1] < heap[c]) c++;
        if (heap[c] >= v) break;
        heap[i] = heap[c];
        i = c;
    }
    heap[i] = v;
}

// Per-thread list of candidate indices for sw_top_indices_f32 (grown, never shrunk).
static _Thread_local uint32_t *candidates;
static _Thread_local size_t candidates_len;

// Heap selection over x[idx[0..<count]] (ascending indices), or over every index when idx is NULL,
// where the level's compare pass skips the values that cannot enter. The heap lives in out.
static void select_top(const sw_sampling_ops *ops, const float *x, size_t n, const uint32_t *idx, size_t count,
                       size_t m, uint64_t *heap) {
    for (size_t i = 0; i < m; i++) heap[i] = entry_key(x, idx ? idx[i] : i);
    for (size_t i = m / 2; i-- > 0;) sift_down(heap, m, i);
    // Only values above the heap's worst can enter (a later equal value loses the tie).
    float floor = x[entry_index(heap[0])];
    if (idx) {
        for (size_t j = m; j < count; j++) {
            if (!(x[idx[j]] > floor)) continue;
            heap[0] = entry_key(x, idx[j]);
            sift_down(heap, m, 0);
            floor = x[entry_index(heap[0])];
        }
        return;
    }
    for (size_t i = ops->next_gt(x, m, n, floor); i < n; i = ops->next_gt(x, i + 1, n, floor)) {
        heap[0] = entry_key(x, i);
        sift_down(heap, m, 0);
        floor = x[entry_index(heap[0])];
    }
}

size_t sw_top_indices_f32(const float *x, size_t n, size_t k, int64_t *out) {
    const sw_sampling_ops *ops = ops_for(sw_cpu_level());
    size_t m = k < n ? k : n;
    if (m == 0) return 0;
    uint64_t *heap = (uint64_t *)out; // same size; each key becomes its index at the end
    int selected = 0;
    if (n >= 16 * m) {
        // Fed the row in order, the heap's floor starts low and the first part of the row keeps
        // replacing entries. Instead: m disjoint chunks each hold a value >= the smallest chunk
        // maximum tau, so the k best are all >= tau; only those few candidates reach the heap, still
        // in index order, so ties resolve as over the whole row. Comparisons only: every level
        // selects the same set.
        size_t c = n / m;
        float tau = INFINITY;
        for (size_t j = 0; j < m; j++) {
            float v = ops->max(x + j * c, c);
            tau = v < tau ? v : tau;
        }
        if (tau > -INFINITY) {
            float below = nextafterf(tau, -INFINITY); // x > below  <=>  x >= tau
            size_t count = 0;
            for (size_t i = ops->next_gt(x, 0, n, below); i < n; i = ops->next_gt(x, i + 1, n, below)) {
                if (count == candidates_len) {
                    size_t len = candidates_len ? 2 * candidates_len : 1024;
                    uint32_t *grown = realloc(candidates, len * sizeof(uint32_t));
                    if (!grown) { count = 0; break; }
                    candidates = grown;
                    candidates_len = len;
                }
                candidates[count++] = (uint32_t)i;
            }
            if (count >= m) {
                select_top(ops, x, n, candidates, count, m, heap);
                selected = 1;
            }
        }
    }
    if (!selected) select_top(ops, x, n, NULL, n, m, heap);
    // Heapsort: moving the worst entry to the end each time leaves the array best first.
    for (size_t end = m; end > 1; end--) {
        uint64_t t = heap[0];
        heap[0] = heap[end - 1];
        heap[end - 1] = t;
        sift_down(heap, end - 1, 0);
    }
    for (size_t i = 0; i < m; i++) out[i] = (int64_t)entry_index(heap[i]);
    return m;
}

// ---- history penalties ----

// Per-thread table over the vocabulary, all zero between calls: bit 0 marks a token already
// penalised for repetition, the bits above count its occurrences in the output.
static _Thread_local uint32_t *penalty_table;
static _Thread_local size_t penalty_table_len;

int sw_apply_penalties_f32(float *logits, size_t vocab, const int64_t *tokens, size_t n_tokens, size_t prompt_len,
                           float repetition, float frequency, float presence) {
    // Unfused, as the Swift code this replaced computed it, so the penalised logits are the same.
#pragma clang fp contract(off)
    if (penalty_table_len < vocab) {
        uint32_t *t = calloc(vocab, sizeof(uint32_t));
        if (!t) return -1;
        free(penalty_table);
        penalty_table = t;
        penalty_table_len = vocab;
    }
    uint32_t *mark = penalty_table;
    if (prompt_len > n_tokens) prompt_len = n_tokens;
    if (repetition != 1.0f) {
        for (size_t i = 0; i < n_tokens; i++) {
            int64_t t = tokens[i];
            if (t < 0 || (uint64_t)t >= vocab || (mark[t] & 1)) continue;
            mark[t] |= 1;
            logits[t] = logits[t] > 0 ? logits[t] / repetition : logits[t] * repetition;
        }
    }
    if (frequency != 0.0f || presence != 0.0f) {
        for (size_t i = prompt_len; i < n_tokens; i++) {
            int64_t t = tokens[i];
            if (t >= 0 && (uint64_t)t < vocab) mark[t] += 2;
        }
        for (size_t i = prompt_len; i < n_tokens; i++) {
            int64_t t = tokens[i];
            if (t < 0 || (uint64_t)t >= vocab || mark[t] < 2) continue;
            logits[t] -= frequency * (float)(mark[t] >> 1) + presence;
            mark[t] &= 1;
        }
    }
    for (size_t i = 0; i < n_tokens; i++) {
        int64_t t = tokens[i];
        if (t >= 0 && (uint64_t)t < vocab) mark[t] = 0;
    }
    return 0;
}
