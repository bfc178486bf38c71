#pragma once
// Tile scheduler shared by the matmul drivers (sw_quant.c, sw_bf16.c). Internal.
#include <stdatomic.h>

// Work distribution: each thread owns a contiguous range of tiles, so repeated calls on the same
// matrix find their weights in the same core's cache, and threads that run out steal from the
// others' ranges. The cores are shared with other processes, so a purely static split would
// leave everyone waiting whenever one thread is preempted.
#define SW_MAX_RANGES 64

typedef struct {
    _Alignas(64) _Atomic int next;
    int end;
} swi_range;

typedef struct {
    int nr;
    int grab;
    swi_range r[SW_MAX_RANGES];
} swi_sched;

static inline void swi_sched_init(swi_sched *s, int ntiles, int nthreads, int grab) {
    int nr = nthreads < SW_MAX_RANGES ? nthreads : SW_MAX_RANGES;
    if (nr > ntiles) nr = ntiles;
    if (nr < 1) nr = 1;
    s->nr = nr;
    s->grab = grab < 1 ? 1 : grab;
    for (int i = 0; i < nr; i++) {
        atomic_init(&s->r[i].next, (int)((long)ntiles * i / nr));
        s->r[i].end = (int)((long)ntiles * (i + 1) / nr);
    }
}

// Next chunk [*t0, *t1) for a thread whose cursor is (*r, *visited); 0 when all work is taken.
static inline int swi_sched_next(swi_sched *s, int *r, int *visited, int *t0, int *t1) {
    while (*visited < s->nr) {
        swi_range *R = &s->r[*r];
        if (atomic_load_explicit(&R->next, memory_order_relaxed) < R->end) {
            int t = atomic_fetch_add_explicit(&R->next, s->grab, memory_order_relaxed);
            if (t < R->end) {
                *t0 = t;
                *t1 = t + s->grab < R->end ? t + s->grab : R->end;
                return 1;
            }
        }
        *r = *r + 1 == s->nr ? 0 : *r + 1;
        (*visited)++;
    }
    return 0;
}
