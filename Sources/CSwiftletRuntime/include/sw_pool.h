#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A fixed set of persistent worker threads for short fork-join parallel regions.
///
/// Workers spin on a shared generation counter for about 200 microseconds after each region,
/// so back-to-back regions start within a microsecond or so; after that they block, leaving
/// the cores free for other thread pools.
///
/// Threading contract: `sw_pool_run` is meant to be called by one thread at a time. A call
/// made while another region on the same pool is still running (from another thread, or
/// from inside a task) does not deadlock: it executes every index serially on the calling
/// thread instead.
typedef struct sw_pool sw_pool;

/// Task body: called once for each thread index `ith` in [0, nth).
typedef void (*sw_task_fn)(void *ctx, int ith, int nth);

/// Creates a pool of `n_threads` threads in total, counting the calling thread (so
/// `n_threads - 1` workers are started). Values below 1 are treated as 1.
/// Returns NULL if thread creation fails.
sw_pool *sw_pool_create(int n_threads);

/// Stops and joins the workers and frees the pool. Must not race with `sw_pool_run`.
void sw_pool_destroy(sw_pool *p);

/// Total thread count including the caller; 1 for a NULL pool.
int sw_pool_size(const sw_pool *p);

/// Runs `fn(ctx, i, n)` for every i in [0, n) with n = sw_pool_size(p). The caller executes
/// index 0; returns once all indices have finished. A NULL pool runs fn(ctx, 0, 1) inline.
void sw_pool_run(sw_pool *p, sw_task_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
