// Times the sampler's row kernels (sw_sampling.h) at each kernel level on a batch of rows shaped
// like a decode step: 32 sequences x a 49152-token vocabulary by default. Thread CPU time, best of
// several repeats, so other jobs on a shared machine disturb the figures less.
//   /tmp/swiftlet-ksampling [rows] [vocab] [repeats]
#define _GNU_SOURCE
#include "sw_sampling.h"
#include "sw_cpu.h"
#include "bench_random.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int rows, vocab, repeats;
static float *src, *row;
static int64_t *history, top[64];
static volatile double sink;

enum { ARGMAX, WEIGHTS, PICK, TOPK, LOGSUMEXP, RANK, PENALTIES, SAMPLE, NOPS };
static const char *names[NOPS] = {"argmax", "exp weights (T=0.8)", "cdf pick", "top-k 50", "logsumexp",
                                  "rank (count >)", "penalties 1000+256", "argmax+weights+pick"};

// One operation over every row; the row is refreshed from src first where the kernel writes it.
static double run(int op) {
    double best = INFINITY;
    for (int rep = 0; rep < repeats; rep++) {
        double spent = 0;
        for (int r = 0; r < rows; r++) {
            const float *x = src + (size_t)r * vocab;
            memcpy(row, x, vocab * sizeof(float));
            double t0 = cpu_us();
            float m;
            switch (op) {
            case ARGMAX: sink += (double)sw_argmax_f32(row, vocab, &m); break;
            case WEIGHTS: sink += sw_exp_weights_f32(row, row, vocab, sw_max_f32(x, vocab), 1.25f, 0); break;
            case PICK: {
                // Weights are prepared outside the timed part; the draw is at a pseudo-random point.
                t0 = -1;
                double total = sw_exp_weights_f32(row, row, vocab, sw_max_f32(x, vocab), 1.25f, 0);
                double t1 = cpu_us();
                sink += (double)sw_cdf_pick_f32(row, vocab, total * ((rnd() & 0xFFFF) / 65536.0));
                spent += cpu_us() - t1;
                break;
            }
            case TOPK: sink += (double)sw_top_indices_f32(row, vocab, 50, top); break;
            case LOGSUMEXP: sink += sw_logsumexp_f32(row, vocab); break;
            case RANK: sink += (double)sw_count_greater_f32(row, vocab, row[r]); break;
            case PENALTIES: sw_apply_penalties_f32(row, vocab, history, 1256, 1000, 1.1f, 0.2f, 0.2f); break;
            case SAMPLE: {
                size_t i = sw_argmax_f32(row, vocab, &m);
                double total = sw_exp_weights_f32(row, row, vocab, m, 1.25f, 0);
                sink += (double)sw_cdf_pick_f32(row, vocab, total * 0.5) + (double)i;
                break;
            }
            }
            if (t0 >= 0) spent += cpu_us() - t0;
        }
        if (spent < best) best = spent;
    }
    return best;
}

int main(int argc, char **argv) {
    rows = argc > 1 ? atoi(argv[1]) : 32;
    vocab = argc > 2 ? atoi(argv[2]) : 49152;
    repeats = argc > 3 ? atoi(argv[3]) : 20;
    src = malloc((size_t)rows * vocab * sizeof(float));
    row = malloc((size_t)vocab * sizeof(float));
    history = malloc(1256 * sizeof(int64_t));
    // Roughly normal logits (sd ~2) with a few strong candidates per row.
    for (size_t i = 0; i < (size_t)rows * vocab; i++) src[i] = (frnd() + frnd() + frnd()) * 2;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < 8; j++) src[(size_t)r * vocab + rnd() % vocab] = 8 + 6 * (frnd() + 1) / 2;
    for (int i = 0; i < 1256; i++) history[i] = rnd() % vocab;

    int levels[3], nl = 0;
    levels[nl++] = SW_ISA_SCALAR;
    int best = sw_cpu_level();
    if (best == SW_ISA_NEON) levels[nl++] = SW_ISA_NEON;
    if (best == SW_ISA_AVX2 || best == SW_ISA_AVX512) levels[nl++] = SW_ISA_AVX2;
    if (best == SW_ISA_AVX512) levels[nl++] = SW_ISA_AVX512;

    printf("%d rows x %d vocab, thread CPU time per step (all rows), best of %d\n%-22s", rows, vocab, repeats, "");
    for (int l = 0; l < nl; l++) printf("%12s", sw_cpu_level_name(levels[l]));
    printf("\n");
    for (int op = 0; op < NOPS; op++) {
        printf("%-22s", names[op]);
        for (int l = 0; l < nl; l++) {
            sw_cpu_set_thread_level(levels[l]);
            printf("%10.1fus", run(op));
        }
        printf("\n");
    }
    return 0;
}
