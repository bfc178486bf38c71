#define _GNU_SOURCE
#include "sw_pool.h"
#include "sw_cpu.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

// How long an idle worker keeps polling before it blocks. Long enough to bridge the gaps between
// the kernels of one forward pass, short enough that an idle engine does not burn the cores
// other libraries (e.g. an OpenMP runtime) want.
#define SW_IDLE_BLOCK_NS 200000ull
// Pure busy-wait phase before polling starts yielding the core. On a machine with more runnable
// threads than cores a spinning worker can otherwise starve the very thread it waits for.
#define SW_PURE_SPIN_NS 10000ull
// Pauses between clock reads (a pause is ~20-40 ns, a clock read ~20-50 ns).
#define SW_SPIN_CHUNK 32

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static inline void cpu_relax(void) {}
#endif

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// Per-worker claim word, on its own cache line. Holds the last generation whose index was
// claimed (by the worker itself or by the caller); see sw_pool_run.
typedef struct {
    _Alignas(64) _Atomic uint32_t claimed;
    sw_pool *pool;
    int ith;
} sw_slot;

struct sw_pool {
    int n;
    pthread_t *threads;
    sw_slot *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv;

    // Published before `gen` is bumped; read by whoever claims an index of that generation.
    sw_task_fn fn;
    void *ctx;
    // The caller's kernel level override (sw_cpu_set_thread_level), which the workers take on
    // for the region so that a thread-level cap covers the whole parallel call.
    int level;

    // The hot counters live on separate cache lines so that workers polling `gen` do not
    // contend with workers decrementing `remaining`.
    _Alignas(64) _Atomic uint32_t gen;
    _Alignas(64) _Atomic int remaining;
    _Alignas(64) _Atomic int sleepers;
    _Atomic int stop;
    _Atomic int busy;
};

// Waits (spin, then spin-and-yield, then block) until p->gen differs from `seen`.
static uint32_t wait_for_generation(sw_pool *p, uint32_t seen) {
    uint64_t t0 = 0;
    for (;;) {
        for (int s = 0; s < SW_SPIN_CHUNK; s++) {
            uint32_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
            if (g != seen) return g;
            cpu_relax();
        }
        uint64_t t = now_ns();
        if (t0 == 0) t0 = t;
        uint64_t idle = t - t0;
        if (idle > SW_IDLE_BLOCK_NS) {
            pthread_mutex_lock(&p->mu);
            // Dekker-style handshake with sw_pool_run: `sleepers` is published before `gen` is
            // re-read (both sequentially consistent) and the caller bumps `gen` before reading
            // `sleepers`, so at least one side sees the other and no wake-up is lost.
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->gen) == seen) pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
            t0 = 0;
        } else if (idle > SW_PURE_SPIN_NS) {
            sched_yield();
        }
    }
}

static void *worker_main(void *arg) {
    sw_slot *slot = (sw_slot *)arg;
    sw_pool *p = slot->pool;
    const int ith = slot->ith;
    // Start from the creation value, not a fresh load: a region may already have been
    // launched before this thread got scheduled, and it must not be skipped.
    uint32_t seen = 0;
    for (;;) {
        const uint32_t g = wait_for_generation(p, seen);
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        // The caller may already have taken over this index (we were slow to wake up), in which
        // case the region may even be over and fn/ctx must not be touched.
        uint32_t expected = g - 1;
        if (!atomic_compare_exchange_strong_explicit(&slot->claimed, &expected, g, memory_order_acq_rel,
                                                     memory_order_relaxed)) {
            continue;
        }
        const int prev = sw_cpu_set_thread_level(p->level);
        p->fn(p->ctx, ith, p->n);
        sw_cpu_set_thread_level(prev);
        atomic_fetch_sub_explicit(&p->remaining, 1, memory_order_release);
    }
    return NULL;
}

sw_pool *sw_pool_create(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    sw_pool *p = (sw_pool *)aligned_alloc(64, (sizeof(sw_pool) + 63) & ~(size_t)63);
    if (!p) return NULL;
    p->n = n_threads;
    p->fn = NULL;
    p->ctx = NULL;
    atomic_init(&p->gen, 0);
    atomic_init(&p->remaining, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->busy, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = NULL;
    p->slots = NULL;
    if (n_threads > 1) {
        p->threads = (pthread_t *)calloc((size_t)n_threads, sizeof(pthread_t));
        p->slots = (sw_slot *)aligned_alloc(64, sizeof(sw_slot) * (size_t)n_threads);
        if (!p->threads || !p->slots) {
            free(p->threads);
            free(p->slots);
            free(p);
            return NULL;
        }
        for (int i = 0; i < n_threads; i++) {
            atomic_init(&p->slots[i].claimed, 0);
            p->slots[i].pool = p;
            p->slots[i].ith = i;
        }
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        // Kernels keep tile scratch on the stack; do not depend on the platform default.
        pthread_attr_setstacksize(&attr, 8u << 20);
        for (int i = 1; i < n_threads; i++) {
            if (pthread_create(&p->threads[i], &attr, worker_main, &p->slots[i]) != 0) {
                p->n = i;  // shut down the workers started so far
                pthread_attr_destroy(&attr);
                sw_pool_destroy(p);
                return NULL;
            }
        }
        pthread_attr_destroy(&attr);
    }
    return p;
}

void sw_pool_destroy(sw_pool *p) {
    if (!p) return;
    if (p->n > 1) {
        atomic_store(&p->stop, 1);
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->gen, 1);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p->slots);
    free(p);
}

int sw_pool_size(const sw_pool *p) { return p ? p->n : 1; }

void sw_pool_run(sw_pool *p, sw_task_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    const int n = p->n;
    if (atomic_exchange_explicit(&p->busy, 1, memory_order_acquire)) {
        // Nested or concurrent use: the workers are taken, so do all the work here.
        for (int i = 0; i < n; i++) fn(ctx, i, n);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->level = sw_cpu_thread_level();
    atomic_store_explicit(&p->remaining, n - 1, memory_order_relaxed);
    // seq_cst: publishes fn/ctx/remaining and is ordered before the `sleepers` load.
    const uint32_t g = atomic_fetch_add(&p->gen, 1) + 1;
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, n);
    // Take over every index whose worker has not started yet (descheduled, or still waking
    // up): running it here is never slower than waiting for that thread to get a core. Each
    // index is claimed exactly once, by compare-and-swap on its slot.
    for (int i = 1; i < n; i++) {
        uint32_t expected = g - 1;
        if (atomic_compare_exchange_strong_explicit(&p->slots[i].claimed, &expected, g, memory_order_acq_rel,
                                                    memory_order_relaxed)) {
            fn(ctx, i, n);
            atomic_fetch_sub_explicit(&p->remaining, 1, memory_order_relaxed);
        }
    }
    uint64_t t0 = 0;
    for (;;) {
        for (int s = 0; s < SW_SPIN_CHUNK; s++) {
            if (atomic_load_explicit(&p->remaining, memory_order_acquire) == 0) goto done;
            cpu_relax();
        }
        uint64_t t = now_ns();
        if (t0 == 0) t0 = t;
        // A worker we are waiting for may share our core; let it finish.
        if (t - t0 > SW_PURE_SPIN_NS) sched_yield();
    }
done:
    atomic_store_explicit(&p->busy, 0, memory_order_release);
}
