// Timing helpers shared by the two Highway comparison benchmarks.
#pragma once
#include <algorithm>
#include <time.h>
#include <vector>

// Thread CPU time: on a machine shared with other jobs it excludes time spent descheduled,
// which wall-clock medians do not.
static inline double bench_cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct BenchStats {
    double median, lo, hi;
};

static inline BenchStats bench_stats(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

// Seconds per call of f, from one sample of at least min_seconds of CPU time.
template <class F>
static double bench_sample(F &&f, double min_seconds) {
    int reps = 0;
    const double t0 = bench_cpu_seconds();
    double t = t0;
    do {
        f();
        reps++;
        t = bench_cpu_seconds();
    } while (t - t0 < min_seconds);
    return (t - t0) / reps;
}
